"""QoS on real containers (``kubert serve``, runtime ``docker`` on a private dockerd, network
noop): each class's pod runs under its cgroup parent, and every container's oom_score_adj is
the kubelet's figure (a negative one raised to what this host lets runc set), both read from
inside the container's own /proc."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubert.kubelet import FakeClock, KubeletConfig, RuntimeManager, load_pods

pytestmark = [pytest.mark.docker]

GI = 2**30


def pod_text(busybox: str, name: str, resources: str) -> str:
    return f"""
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: {busybox}
    imagePullPolicy: Never
    command: [sleep, "3600"]
    resources: {resources}
"""


def test_cgroup_parent_and_oom_score_adj_per_class(
    clean_engine: Any, cri_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    from kubert_docker import plugin as docker_plugin

    server = cri_server_factory(
        runtime="docker", plugins=(docker_plugin,), pod_infra_image=clean_engine.pause,
        options={"docker": clean_engine.backend_options()},
    )
    cri = server.client()
    config = KubeletConfig(
        root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs", memory_capacity=GI,
        expect_pod_ip=False,
    )
    manager = RuntimeManager(cri, config, FakeClock())
    # the floor the runtime clamps to on a host without CAP_SYS_RESOURCE (kubert_docker.oom)
    floor = -997 if clean_engine.negative_oom_score_adj_works else int(
        Path("/proc/self/oom_score_adj").read_text()
    )
    cases = {
        "guaranteed": ("{limits: {cpu: 100m, memory: 64Mi}}", "/kubepods/pod", max(-997, floor)),
        "burstable": ("{requests: {memory: 64Mi}}", "/kubepods/burstable/pod", 938),
        "besteffort": ("{}", "/kubepods/besteffort/pod", 1000),
    }
    pods = []
    try:
        for name, (resources, parent, expected) in cases.items():
            pod = load_pods(pod_text(clean_engine.busybox, name, resources))[0]
            pods.append(pod)
            manager.sync_pod(pod)
            app = manager.observe(pod.uid).find("app")
            assert app is not None and app.running, name
            cgroups = cri.exec_sync(app.id, ["cat", "/proc/1/cgroup"], timeout=10).stdout
            memory_line = next(
                line for line in cgroups.decode().splitlines() if ":memory:" in line
                or line.startswith("0::")
            )
            assert f"{parent}{pod.uid}/" in memory_line, (name, cgroups)
            score = cri.exec_sync(app.id, ["cat", "/proc/1/oom_score_adj"], timeout=10).stdout
            assert int(score.decode()) == expected, name
    finally:
        for pod in pods:
            manager.delete_pod(pod.uid, pod)
        cri.close()
