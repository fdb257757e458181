"""The ``inplace`` plugin: in-place container upgrades through kubert's pod-sync hooks.

``kubert_compute_pod_actions`` takes the containers that qualify out of the kubelet's plan
(and says why others do not); the ``kubert_sync_pod`` wrapper upgrades them before the rest of
the plan runs; ``kubert_pod_status_extra`` shows the last upgrade. Installing kubert enables it;
``KUBERT_INPLACE=off``, ``KUBERT_BLOCK_PLUGINS=inplace`` or the pod annotation
``inplace.kubert.io/policy: ReCreate`` leave the kubelet's behaviour alone.
"""

from __future__ import annotations

from collections.abc import Generator

import attrs

from kubert import hookimpl
from kubert.kubelet import KubeletConfig, Pod, PodActions, PodSyncContext, SyncResult
from kubert_inplace import status
from kubert_inplace.plan import Plan, make_plan, ordered
from kubert_inplace.record import RecordStore
from kubert_inplace.settings import Settings, settings_for, switched_off
from kubert_inplace.upgrade import Upgrader


def _plan(context: PodSyncContext, actions: PodActions) -> tuple[Plan, Settings] | None:
    """This sync's in-place plan, or None when the plugin stays out of it.

    Computed again, from the same inputs, by both hooks: nothing is carried between them. The
    pod's settings are read only when there is something to do or say, so a pod that needs no
    upgrade never fails on them.
    """
    if switched_off():
        return None
    record = RecordStore(context.manager.config).load(context.pod.uid)
    plan = make_plan(context.pod, context.status, actions, record)
    if not (plan.targets or plan.held or plan.notes):
        return None
    settings = settings_for(context.pod)
    if not settings.enabled:
        return None
    return attrs.evolve(plan, targets=ordered(plan.targets, settings)), settings


@hookimpl
def kubert_compute_pod_actions(context: PodSyncContext, actions: PodActions) -> PodActions | None:
    """Take the containers upgraded in place (or held) out of the kubelet's kills and starts."""
    found = _plan(context, actions)
    if found is None:
        return None
    plan, _ = found
    for note in plan.notes:
        context.progress(note)
    names = plan.names
    if not names:
        return None
    return attrs.evolve(
        actions,
        containers_to_kill=[k for k in actions.containers_to_kill if k.name not in names],
        containers_to_start=[n for n in actions.containers_to_start if n not in names],
        init_containers_to_start=[
            n for n in actions.init_containers_to_start if n not in names
        ],
        # A container restarted in place gets its new resources when it is created.
        containers_to_resize=[r for r in actions.containers_to_resize if r.spec.name not in names],
    )


@hookimpl(wrapper=True)
def kubert_sync_pod(
    context: PodSyncContext, actions: PodActions
) -> Generator[None, SyncResult, SyncResult]:
    """Upgrade the plan's containers in place, then let the rest of the sync run."""
    found = _plan(context, actions)
    if found is None:
        return (yield)
    plan, settings = found
    killed = {k.name for k in actions.containers_to_kill}
    targets = [t for t in plan.targets if t.name not in killed]
    if not targets:
        return (yield)
    upgrader = Upgrader(
        context=context,
        plan=attrs.evolve(plan, targets=targets),
        settings=settings,
        store=RecordStore(context.manager.config),
        attempt=actions.attempt,
    )
    steps = upgrader.run()
    result = yield
    return attrs.evolve(result, steps=(*steps, *result.steps))


@hookimpl
def kubert_pod_status_extra(
    uid: str, pod: Pod | None, config: KubeletConfig, detail: bool
) -> dict[str, str]:
    """The pod's last in-place upgrade, when it had one."""
    record = RecordStore(config).load(uid)
    if record is None:
        return {}
    return {status.KEY: status.detail(record) if detail else status.short(record)}
