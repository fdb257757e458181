"""The pod-sync hooks: a plugin, importing only ``kubert`` and ``kubert.kubelet``, changes how a
pod converges (what kubert_inplace builds on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from kubert import hookimpl
from kubert.cri.client import CriClient
from kubert.kubelet import (
    ContainerKill,
    ContainerStart,
    ContainerToKill,
    PodActions,
    PodSyncContext,
    RuntimeManager,
    SyncResult,
    field_ref_values,
    load_pods,
)
from tests.fixtures.server import RunningServer

from .conftest import new_manager, unique_name


def labelled_pod(name: str, tier: str, image: str = "busybox:1.36") -> Any:
    return load_pods(f"""
metadata: {{name: {name}, labels: {{tier: {tier}}}}}
spec:
  containers:
  - name: reader
    image: {image}
    command: [sleep, "9999"]
    env: [{{name: TIER, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['tier']"}}}}}}]
  - {{name: other, image: "busybox:1.36", command: [sleep, "9999"]}}
""")[0]


class RestartFieldRefConsumers:
    """Restarts, in place, the containers whose env fieldRef values changed (labels edited)."""

    @hookimpl
    def kubert_compute_pod_actions(
        self, context: PodSyncContext, actions: PodActions
    ) -> PodActions | None:
        if actions.kill_pod:
            return None
        extra = []
        for spec in context.pod.spec.containers:
            current = context.status.find(spec.name)
            if current is None or not current.running:
                continue
            wanted = field_ref_values(context.pod, spec, context.status.ips)
            if wanted and wanted != current.field_refs:
                extra.append(
                    ContainerToKill(
                        container=current,
                        spec=spec,
                        reason="FieldRefChanged",
                        message=f"{spec.name}'s fieldRef values changed",
                    )
                )
        if not extra:
            return None
        return attrs.evolve(
            actions,
            containers_to_kill=actions.containers_to_kill + tuple(extra),
            containers_to_start=actions.containers_to_start + tuple(k.name for k in extra),
        )


class Recorder:
    """Observes every start, kill and sync (wrappers), and can keep a container running."""

    def __init__(self, keep: str = "") -> None:
        self.keep = keep
        self.events: list[str] = []

    @hookimpl(wrapper=True)
    def kubert_sync_pod(self, context: PodSyncContext, actions: PodActions) -> Any:
        self.events.append("sync:before")
        result: SyncResult = yield
        self.events.append(f"sync:after:{len(result.steps)}")
        return result

    @hookimpl
    def kubert_start_container(self, start: ContainerStart) -> str | None:
        self.events.append(f"start:{start.spec.name}:{start.restart_count}:{start.reason}")
        return start.default()

    @hookimpl
    def kubert_kill_container(self, kill: ContainerKill) -> bool | None:
        self.events.append(f"kill:{kill.container.name}:{kill.reason}:{kill.grace_period}")
        if kill.container.name == self.keep:
            return False
        return None


def with_plugins(manager: RuntimeManager, *plugins: object) -> RuntimeManager:
    for plugin in plugins:
        manager.pm.register(plugin)
    return manager


def test_label_change_restarts_only_the_consumer_in_place(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    with_plugins(manager, RestartFieldRefConsumers())
    name = unique_name("refs")
    manager.sync_pod(labelled_pod(name, "gold"))
    before = manager.observe(labelled_pod(name, "gold").uid)
    edited = labelled_pod(name, "silver")
    manager.sync_pod(edited)
    after = manager.observe(edited.uid)
    assert after.sandbox == before.sandbox
    assert after.find("other") == before.find("other")
    reader = after.find("reader")
    assert reader is not None and reader.running and reader.restart_count == 1
    assert reader.field_refs == {"metadata.labels['tier']": "silver"}
    manager.sync_pod(edited)  # converged: nothing more to do
    assert manager.observe(edited.uid).find("reader") == reader
    manager.delete_pod(edited.uid, edited)


def test_without_the_plugin_a_label_change_restarts_nothing(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    name = unique_name("refs")
    manager.sync_pod(labelled_pod(name, "gold"))
    before = manager.observe(labelled_pod(name, "gold").uid)
    manager.sync_pod(labelled_pod(name, "silver"))
    assert manager.observe(before.uid).containers == before.containers
    manager.delete_pod(before.uid)


def test_start_kill_and_sync_hooks_see_every_step(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    recorder = Recorder()
    with_plugins(manager, recorder)
    name = unique_name("hooks")
    pod = labelled_pod(name, "gold")
    manager.sync_pod(pod)
    assert recorder.events == [
        "sync:before",
        "start:reader:0:first start",
        "start:other:0:first start",
        "sync:after:3",
    ]
    recorder.events.clear()
    manager.sync_pod(labelled_pod(name, "gold", image="alpine:3.20"))
    assert recorder.events == [
        "sync:before",
        "kill:reader:SpecChanged:30",
        "start:reader:1:restart",
        "sync:after:2",
    ]
    manager.delete_pod(pod.uid, pod)


def test_a_plugin_may_keep_a_container_it_will_not_kill(
    memory_server: RunningServer, memory_cri: CriClient, tmp_path: Path
) -> None:
    manager, _ = new_manager(memory_cri, tmp_path)
    with_plugins(manager, Recorder(keep="reader"))
    name = unique_name("keep")
    pod = labelled_pod(name, "gold")
    manager.sync_pod(pod)
    first = manager.observe(pod.uid).find("reader")
    result = manager.sync_pod(labelled_pod(name, "gold", image="alpine:3.20"))
    refused = [s for s in result.steps if s.action == "KillContainer"]
    assert [(s.target, s.error) for s in refused] == [("reader", "KillContainerRefused")]
    assert manager.observe(pod.uid).find("reader") == first
    manager.delete_pod(pod.uid, pod)
