"""Readiness and pod conditions over a real CRI socket (memory runtime) with a FakeClock: a
container is ready only once its readiness probe passed successThreshold times; conditions
keep their transition time until their status changes; ``kubert get -o json`` and ``describe``
in another manager read what the syncing one recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kubert.cli import build_cli
from kubert.cri.client import CriClient
from kubert.kubelet import load_pods
from kubert.kubelet.podconditions import load
from kubert.plugins import PluginHost
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name

TEXT = """
metadata: {name: %s}
spec:
  containers:
  - name: app
    image: 'busybox:1.36'
    command: [sleep, '9999']
    readinessProbe: {exec: {command: ['true']}, periodSeconds: 5, successThreshold: 2}
  - {name: plain, image: 'busybox:1.36', command: [sleep, '9999']}
"""


def conditions(root: Path, uid: str) -> dict[str, Any]:
    return {c.type: c for c in load(root / "kubelet" / "pods" / uid).conditions}


def test_ready_after_success_threshold_with_transition_times(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, clock = new_manager(memory_cri, tmp_path)
    pod = load_pods(TEXT % unique_name("ready"))[0]
    try:
        manager.sync_pod(pod)
        start = clock.now()
        first = conditions(tmp_path, pod.uid)
        assert first["PodReadyToStartContainers"].status == "True"
        assert first["Initialized"].status == "True"
        assert first["Ready"].status == "False" and "app" in first["Ready"].message
        assert "plain" not in first["Ready"].message  # no readiness probe: ready once running
        assert manager.probes.run_due() == 1  # one success, threshold 2: still not ready
        clock.advance(5)
        manager.sync_pod(pod)
        assert conditions(tmp_path, pod.uid)["Ready"].status == "False"
        assert conditions(tmp_path, pod.uid)["Ready"].last_transition_time == start
        assert manager.probes.run_due() == 1
        clock.advance(1)
        manager.sync_pod(pod)
        became_ready = clock.now()
        now = conditions(tmp_path, pod.uid)
        assert now["Ready"].status == "True" and now["Ready"].last_transition_time == became_ready
        assert now["ContainersReady"].status == "True"
        assert now["Initialized"].last_transition_time == start  # unchanged status, same time
        clock.advance(30)
        manager.sync_pod(pod)
        assert conditions(tmp_path, pod.uid)["Ready"].last_transition_time == became_ready

        env = {
            "CONTAINER_RUNTIME_ENDPOINT": memory_server.address,
            "KUBERT_KUBELET_ROOT": str(tmp_path / "kubelet"),
            "KUBERT_LOG_ROOT": str(tmp_path / "logs"),
        }
        cli = build_cli(PluginHost(autoload=False).load())
        runner = CliRunner()
        listed = runner.invoke(cli, ["get", "pods", "-o", "json"], env=env, catch_exceptions=False)
        assert listed.exit_code == 0, listed.output
        (shown,) = [p for p in json.loads(listed.output) if p["uid"] == pod.uid]
        assert shown["ready"] == 2
        by_type = {c["type"]: c for c in shown["conditions"]}
        assert by_type["Ready"]["status"] == "True"
        assert by_type["Ready"]["last_transition_time"] == became_ready
        described = runner.invoke(
            cli, ["describe", "pod", pod.name], env=env, catch_exceptions=False
        )
        assert "Conditions:" in described.output
        rows = [line.split()[:2] for line in described.output.splitlines()]
        assert ["ContainersReady", "True"] in rows, described.output
    finally:
        manager.delete_pod(pod.uid, pod)


def test_with_the_real_clock_probes_run_in_the_background(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    """No run_due call: the prober thread the first tracked probe started runs it; syncs only
    read the result."""
    from kubert.kubelet import KubeletConfig, RuntimeManager, SystemClock
    from tests.fixtures.polling import eventually

    config = KubeletConfig(root_dir=tmp_path / "kubelet", log_root=tmp_path / "logs")
    manager = RuntimeManager(memory_cri, config, SystemClock())
    text = TEXT.replace("periodSeconds: 5, successThreshold: 2", "periodSeconds: 1")
    pod = load_pods(text % unique_name("bg"))[0]
    try:
        manager.sync_pod(pod)
        app = manager.observe(pod.uid).find("app")
        assert app is not None
        assert eventually(lambda: manager.probes.ready(app.id), timeout=20, interval=0.1)
        worker = manager.probes.worker(app.id, "readiness")
        assert worker is not None and worker.runs >= 1
    finally:
        manager.delete_pod(pod.uid, pod)
    # the pod's workers went with its containers; the thread ends when none is left
    assert manager.probes.worker(app.id, "readiness") is None
    assert eventually(
        lambda: manager.probes._thread is None, timeout=10, interval=0.1
    ), "the prober thread did not end"
