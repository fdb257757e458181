"""Lifecycle hooks and termination messages on real containers (``kubert serve``, a private
dockerd, a real CNI bridge): postStart and preStop exec hooks leave files in a hostPath the
test reads, sidecars' preStop runs after the main container's (reverse order), a failing
postStart kills its container with PostStartHookError, and terminated containers report their
terminationMessagePath file or, with FallbackToLogsOnError, their last log lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert.kubelet import FakeClock, KubeletConfig, Pod, RuntimeManager, load_pods
from kubert.kubelet.podstatus import pod_view
from tests.cni.helpers import PrivateNet
from tests.fixtures.polling import eventually

from .conftest import private_cni

pytestmark = [pytest.mark.docker, pytest.mark.cni]

TERM_LOOP = "trap 'exit 0' TERM; while true; do sleep 1; done"


@pytest.fixture
def hook_net(tmp_path: Path) -> Iterator[PrivateNet]:
    """A private bridge and /24 for this file (10.248.x.0/24)."""
    with private_cni(tmp_path, "kbtlc", "10.248") as net:
        yield net


def manifest(busybox: str, hooks: Path) -> Pod:
    common = (
        f"image: {busybox}\n    imagePullPolicy: Never\n"
        "    volumeMounts: [{name: hooks, mountPath: /hooks}]"
    )
    after = "test -f /hooks/pre-{0} && echo ok > /hooks/pre-{1}"
    return load_pods(f"""
metadata: {{name: hooked, namespace: e2e}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 10
  volumes: [{{name: hooks, hostPath: {{path: {hooks}, type: DirectoryOrCreate}}}}]
  initContainers:
  - name: side1
    {common}
    restartPolicy: Always
    command: [sh, -c, "{TERM_LOOP}"]
    lifecycle:
      preStop: {{exec: {{command: [sh, -c, "{after.format("side2", "side1")}"]}}}}
  - name: side2
    {common}
    restartPolicy: Always
    command: [sh, -c, "{TERM_LOOP}"]
    lifecycle:
      preStop: {{exec: {{command: [sh, -c, "{after.format("main", "side2")}"]}}}}
  containers:
  - name: main
    {common}
    command: [sh, -c, "{TERM_LOOP}"]
    lifecycle:
      postStart: {{exec: {{command: [sh, -c, "echo started > /hooks/post-main"]}}}}
      preStop: {{exec: {{command: [sh, -c, "echo stopping > /hooks/pre-main"]}}}}
  - name: badhook
    {common}
    command: [sh, -c, "{TERM_LOOP}"]
    lifecycle: {{postStart: {{exec: {{command: [sh, -c, "exit 7"]}}}}}}
  - name: says
    {common}
    command: [sh, -c, "echo 'bye now' > /dev/termination-log; exit 3"]
  - name: fallback
    {common}
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, "echo first; echo last words; exit 4"]
""")[0]


def test_hooks_and_termination_messages_on_real_containers(
    clean_engine: Any,
    cri_server_factory: Callable[..., Any],
    hook_net: PrivateNet,
    tmp_path: Path,
) -> None:
    server = cri_server_factory(**hook_net.docker_server_args(clean_engine))
    cri = server.client()
    manager = RuntimeManager(
        cri, KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs"), FakeClock()
    )
    hooks = tmp_path / "hooks"
    pod = manifest(clean_engine.busybox, hooks)
    lines: list[str] = []
    try:
        steps = []
        for _ in range(3):
            steps += manager.sync_pod(pod, progress=lines.append).steps
        errors = {s.target: s.error for s in steps if s.action == "StartContainer" and s.error}
        assert errors == {"badhook": "PostStartHookError"}, (errors, lines)
        assert any("PostStartHook of badhook failed" in line for line in lines), lines
        assert (hooks / "post-main").read_text().strip() == "started"
        status = manager.observe(pod.uid)
        assert status.find("main").running  # type: ignore[union-attr]
        assert not status.find("badhook").running  # type: ignore[union-attr]

        def terminated() -> dict[str, str]:
            view = pod_view(pod, manager.observe(pod.uid))
            return {c.name: c.message for c in view.containers if c.state == "terminated"}

        messages = eventually(
            terminated, lambda m: {"says", "fallback"} <= set(m), timeout=30, interval=0.2
        )
        assert messages["says"].strip() == "bye now"
        assert messages["fallback"].splitlines()[-2:] == ["first", "last words"]
    finally:
        manager.delete_pod(pod.uid, pod)
        cri.close()
    # main's preStop ran first, then side2's (it saw main's file), then side1's (saw side2's)
    assert (hooks / "pre-main").read_text().strip() == "stopping"
    assert (hooks / "pre-side2").read_text().strip() == "ok"
    assert (hooks / "pre-side1").read_text().strip() == "ok"
