"""The upgrade record: what an in-place upgrade of one pod did, kept in the pod's directory.

Sandbox annotations cannot change after RunPodSandbox, so the record is a JSON file,
``<root_dir>/pods/<uid>/inplace-upgrade.json``, tied to its sandbox by ID and rewritten
atomically (temp file, fsync, rename) after every step: a crashed kubert finds it on the next
sync and finishes or rolls back what it says is in flight. Deleting the pod removes it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

from kubert import atomic_write
from kubert.kubelet import KubeletConfig

FILENAME = "inplace-upgrade.json"

# Pod results.
IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
ROLLED_BACK = "RolledBack"
FAILED = "Failed"
PULL_FAILED = "PullFailed"
FINAL_RESULTS = (SUCCEEDED, ROLLED_BACK, FAILED, PULL_FAILED)

# Container phases, in the order an upgrade goes through them.
PENDING = "Pending"
PULLED = "Pulled"
STOPPING = "Stopping"
STARTING = "Starting"
VERIFYING = "Verifying"
UPGRADED = "Upgraded"
ROLLING_BACK = "RollingBack"
SKIPPED = "Skipped"
FINAL_PHASES = (UPGRADED, ROLLED_BACK, FAILED, SKIPPED)


@define(kw_only=True)
class ContainerProgress:
    """One container's part of the upgrade.

    :ivar reason: ``image`` (a new image) or ``fieldRef`` (labels / annotations its env reads).
    :ivar old_id: the container that ran before; ``new_id`` the one started in its place.
    :ivar old_image_ref: / ``new_image_ref``: the image IDs (digests) the runtime reported.
    :ivar downtime: seconds from StopContainer of the old one to StartContainer of the new one.
    """

    name: str
    kind: str
    reason: str
    old_image: str
    new_image: str
    phase: str = PENDING
    old_id: str = ""
    new_id: str = ""
    old_image_ref: str = ""
    new_image_ref: str = ""
    stop_started: float = 0.0
    downtime: float | None = None
    message: str = ""


@define(kw_only=True)
class UpgradeRecord:
    """The last in-place upgrade of a pod.

    :ivar revision: hash of the containers' specs the upgrade moves to.
    :ivar sequence: how many upgrades this pod has had (this one included).
    """

    uid: str
    sandbox_id: str
    revision: str
    sequence: int
    started_at: float
    finished_at: float = 0.0
    result: str = IN_PROGRESS
    message: str = ""
    containers: dict[str, ContainerProgress] = field(factory=dict)

    @property
    def in_progress(self) -> bool:
        return self.result not in FINAL_RESULTS

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpgradeRecord:
        containers = {
            name: ContainerProgress(**item) for name, item in data.pop("containers", {}).items()
        }
        return cls(**data, containers=containers)


@define
class RecordStore:
    """Reads and atomically writes the upgrade records of one node's pods."""

    config: KubeletConfig
    _lock: threading.Lock = field(init=False, factory=threading.Lock)

    def path(self, uid: str) -> Path:
        return self.config.pod_dir(uid) / FILENAME

    def load(self, uid: str) -> UpgradeRecord | None:
        """The pod's record; None when there is none or it cannot be read (then it is ignored
        rather than trusted: the runtime's state decides)."""
        try:
            return UpgradeRecord.from_dict(json.loads(self.path(uid).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, record: UpgradeRecord) -> None:
        """Write ``record`` so that a crash leaves either the old or the new file, never half."""
        path = self.path(record.uid)
        with self._lock:
            atomic_write(path, record.to_json())


def now() -> float:
    """Wall-clock time for the record (shown to people); durations use the monotonic clock."""
    return time.time()
