"""The event-fed state view, stats from cgroup files, and GetContainerEvents."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import kubert
from tests.fixtures.docker_helpers import PodMaker, make_runtime
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


def test_changes_made_outside_kubert_reach_the_view_through_events(
    pods: Any, docker_client: Any
) -> None:
    cid = pods.run("sleep", "60")
    docker_client.api.kill(cid)
    status = eventually(lambda: (s := pods.runtime.container_status(cid)).state
                        == kubert.ContainerState.CONTAINER_EXITED and s, timeout=10, interval=0.02)
    assert status and status.exit_code == 137
    docker_client.api.remove_container(cid)
    assert eventually(lambda: not pods.runtime.list_containers(kubert.ContainerFilter(id=cid)),
                      timeout=10, interval=0.02)
    with pytest.raises(kubert.NotFoundError):
        pods.runtime.container_status(cid)


def test_relists_are_served_without_engine_calls(pods: Any, monkeypatch: Any) -> None:
    """Fault injection: the engine client is replaced by one that fails every call, so a
    list or status that reached the engine would raise."""
    cid = pods.run("sleep", "60")
    sandbox_id = pods.runtime.container_status(cid)  # warm
    del sandbox_id

    class NoEngine:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"engine called: {name}")

    monkeypatch.setattr(pods.runtime.engine, "_client", NoEngine())
    assert [c.id for c in pods.runtime.list_containers(kubert.ContainerFilter(id=cid))] == [cid]
    assert pods.runtime.container_status(cid).state == kubert.ContainerState.CONTAINER_RUNNING
    assert pods.runtime.list_sandboxes(None)
    assert pods.runtime.list_container_stats(None)


def test_container_and_pod_stats_from_cgroups(pods: Any) -> None:
    sandbox_id = pods.sandbox(linux=kubert.LinuxPodSandboxConfig(cgroup_parent="/kubert-stats"))
    burner = pods.container(sandbox_id, "sh", "-c", "i=0; while [ $i -lt 200000 ]; do "
                            "i=$((i+1)); done; head -c 4m /dev/zero > /tmp/part; "
                            "mv /tmp/part /tmp/blob; sleep 60")
    idle = pods.container(sandbox_id, "sleep", "60", name="idle")
    assert eventually(lambda: pods.exec(burner, "ls /tmp/blob 2>/dev/null || true").strip(),
                      timeout=30, interval=0.02)
    stats = pods.runtime.container_stats(burner)
    assert stats.cpu.usage_core_nano_seconds > 10_000_000
    assert stats.memory.working_set_bytes > 0
    assert stats.writable_layer.used_bytes >= 4 * 1024 * 1024
    assert stats.writable_layer.fs_id.mountpoint.endswith("overlay2")
    listed = pods.runtime.list_container_stats(
        kubert.ContainerStatsFilter(pod_sandbox_id=sandbox_id)
    )
    assert {s.attributes.id for s in listed} == {burner, idle}
    assert pods.runtime.list_container_stats(kubert.ContainerStatsFilter(id=idle))[
        0
    ].attributes.id == (idle)
    pod = pods.runtime.pod_sandbox_stats(sandbox_id)
    assert pod.linux.cpu.usage_core_nano_seconds >= stats.cpu.usage_core_nano_seconds
    assert pod.linux.process.process_count >= 3
    assert {c.attributes.id for c in pod.linux.containers} == {burner, idle}
    assert [
        p.attributes.id
        for p in pods.runtime.list_pod_sandbox_stats(kubert.PodSandboxStatsFilter(id=sandbox_id))
    ] == [sandbox_id]


def test_container_events_follow_the_lifecycle(docker_engine: Any, tmp_path: Path) -> None:
    # A backend of its own: closing it ends the event iterator, and no other test's events
    # are in flight on it.
    runtime = make_runtime(docker_engine, tmp_path / "root")
    pods = PodMaker(runtime, docker_engine, tmp_path / "logs")
    seen: list[kubert.ContainerEvent] = []
    events = runtime.container_events()
    reader = threading.Thread(target=lambda: seen.extend(events), daemon=True)
    reader.start()
    try:
        sandbox_id = pods.sandbox()
        cid = pods.container(sandbox_id, "sleep", "60")
        runtime.stop_container(cid, 0)
        runtime.remove_container(cid)
        assert eventually(
            lambda: any(
                e.container_id == cid
                and e.container_event_type == kubert.ContainerEventType.CONTAINER_DELETED_EVENT
                for e in list(seen)
            ),
            timeout=20,
            interval=0.02,
        )
    finally:
        pods.cleanup()
        runtime.close()
    reader.join(10)
    assert not reader.is_alive(), "the event iterator did not end when the backend closed"
    mine = [e.container_event_type for e in seen if e.container_id == cid]
    assert mine == [
        kubert.ContainerEventType.CONTAINER_CREATED_EVENT,
        kubert.ContainerEventType.CONTAINER_STARTED_EVENT,
        kubert.ContainerEventType.CONTAINER_STOPPED_EVENT,
        kubert.ContainerEventType.CONTAINER_DELETED_EVENT,
    ]
    started = next(
        e
        for e in seen
        if e.container_id == cid
        and e.container_event_type == kubert.ContainerEventType.CONTAINER_STARTED_EVENT
    )
    assert started.pod_sandbox_status.id == sandbox_id
    assert cid in {s.id for s in started.containers_statuses}


def test_engine_down_then_back(docker_engine: Any, docker_client: Any, tmp_path: Path) -> None:
    """A second private engine is stopped under a backend and started again on the same root:
    status and calls say UNAVAILABLE while it is gone, and all is well once it is back."""
    from kubert_docker.testing import start_dockerd, stop_pid

    root = Path(docker_engine.root.parent / f"{docker_engine.root.name}-down")
    root.mkdir()
    engine = start_dockerd(root)
    try:
        client = engine.client()
        rootfs = docker_client.api.get_image(docker_engine.pause)
        client.api.load_image(b"".join(rootfs))
        runtime = make_runtime(engine, tmp_path / "root")
        try:
            assert runtime.status().status
            stop_pid(engine.proc, 30)
            condition = runtime.status()
            assert not condition.status and condition.reason == "DockerDaemonNotReady"
            with pytest.raises(kubert.UnavailableError):
                runtime.list_containers(None)
            config = kubert.PodSandboxConfig(
                metadata=kubert.PodSandboxMetadata(name="back", uid="back", namespace="t")
            )
            with pytest.raises(kubert.UnavailableError):
                runtime.create_sandbox(config, "")
            engine = start_dockerd(root)
            assert eventually(lambda: runtime.status().status, timeout=20, interval=0.02)
            created = runtime.create_sandbox(config, "")
            runtime.start_sandbox(created.id)
            assert runtime.sandbox_status(created.id).state == kubert.PodSandboxState.SANDBOX_READY
            runtime.remove_sandbox(created.id)
        finally:
            runtime.close()
        client.close()
    finally:
        stop_pid(engine.proc, 30)
        shutil.rmtree(root, ignore_errors=True)
