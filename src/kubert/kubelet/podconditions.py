"""Pod conditions (PodReadyToStartContainers, Initialized, ContainersReady, Ready) and the
readiness of running containers, recorded after each sync with their transition times.

Readiness lives in the prober of the process that syncs (``kubert kubelet`` or ``kubert
apply``); ``kubert get`` / ``describe`` in another process read what the last sync recorded in
``<root-dir>/pods/<uid>/conditions.json``. A condition keeps its ``last_transition_time`` until
its status changes, as the API server's pod status does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from kubert.fileutil import atomic_write

READY_TO_START = "PodReadyToStartContainers"
INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
READY = "Ready"
CONDITION_TYPES = (READY_TO_START, INITIALIZED, CONTAINERS_READY, READY)
FILE = "conditions.json"


@frozen(kw_only=True)
class PodCondition:
    """One condition: ``status`` is "True" or "False"; times are seconds since the epoch."""

    type: str
    status: str
    last_transition_time: float
    reason: str = ""
    message: str = ""


@frozen(kw_only=True)
class Judged:
    """A condition as computed now, before its transition time is known."""

    type: str
    ok: bool
    reason: str = ""
    message: str = ""


def judge(
    *,
    sandbox_ready: bool,
    init_pending: Iterable[str],
    unready: Iterable[str],
    completed: bool,
) -> list[Judged]:
    """The four conditions from what the pod's view says.

    :param init_pending: init containers not yet done (sidecars not yet started).
    :param unready: regular containers and sidecars that are not ready.
    :param completed: the pod succeeded or failed for good.
    """
    pending, not_ready = sorted(init_pending), sorted(unready)
    if completed:
        reason, message = "PodCompleted", ""
    elif not_ready:
        reason = "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(not_ready)}]"
    else:
        reason, message = "", ""
    ready = not not_ready and not completed
    return [
        Judged(type=READY_TO_START, ok=sandbox_ready),
        Judged(
            type=INITIALIZED,
            ok=not pending,
            reason="" if not pending else "ContainersNotInitialized",
            message=f"containers with incomplete status: [{' '.join(pending)}]" if pending else "",
        ),
        Judged(type=CONTAINERS_READY, ok=ready, reason=reason, message=message),
        Judged(type=READY, ok=ready, reason=reason, message=message),
    ]


def stamp(
    judged: Iterable[Judged], previous: Mapping[str, PodCondition], now: float
) -> list[PodCondition]:
    """Conditions with transition times: kept from ``previous`` while the status is the same.
    Recorded conditions of other types (resize) are kept as they are."""
    out = []
    for item in judged:
        status = "True" if item.ok else "False"
        before = previous.get(item.type)
        since = before.last_transition_time if before and before.status == status else now
        out.append(
            PodCondition(
                type=item.type, status=status, last_transition_time=since,
                reason=item.reason, message=item.message,
            )
        )
    types = {item.type for item in out}
    if all(t in CONDITION_TYPES for t in types):
        out += [c for t, c in previous.items() if t not in CONDITION_TYPES]
    return out


@frozen
class ConditionRecord:
    """What the last sync recorded: conditions and readiness by container ID."""

    conditions: tuple[PodCondition, ...] = ()
    ready: Mapping[str, bool] = {}

    def by_type(self) -> dict[str, PodCondition]:
        return {c.type: c for c in self.conditions}


def load(pod_dir: Path) -> ConditionRecord:
    try:
        data = json.loads((pod_dir / FILE).read_text())
    except (OSError, ValueError):
        return ConditionRecord()
    if not isinstance(data, dict):
        return ConditionRecord()
    conditions = []
    for raw in data.get("conditions", []):
        try:
            conditions.append(PodCondition(**raw))
        except TypeError:
            continue
    ready = {str(k): bool(v) for k, v in dict(data.get("ready", {})).items()}
    return ConditionRecord(tuple(conditions), ready)


def save(pod_dir: Path, record: ConditionRecord) -> None:
    if not pod_dir.is_dir():
        return  # a deleted pod: nothing to record
    payload: dict[str, Any] = {
        "conditions": [
            {
                "type": c.type, "status": c.status, "last_transition_time": c.last_transition_time,
                "reason": c.reason, "message": c.message,
            }
            for c in record.conditions
        ],
        "ready": dict(record.ready),
    }
    atomic_write(pod_dir / FILE, json.dumps(payload))
