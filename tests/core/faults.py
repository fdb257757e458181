"""Backends for fault injection in the core tests (the only fakes these tests use).

``FaultyCheckpoints`` is the real file store, failing the N-th write when told to;
``RecordingNetwork`` is a tiny but complete network backend that hands out addresses, records
attachments, teardowns and garbage collection, and fails setup or status when told to.
"""

from __future__ import annotations

from collections.abc import Callable

from kubert import (
    BackendContext,
    Checkpoint,
    NetworkBackend,
    PodNetwork,
    PodSandboxNetworkStatus,
    RegisterBackend,
    RuntimeCondition,
    UnavailableError,
    hookimpl,
)
from kubert.checkpoint import FileCheckpointStore
from kubert.model import NETWORK_READY, PodIP


class FaultyCheckpoints(FileCheckpointStore):
    """The file store, failing the N-th write when told to (fault injection)."""

    fail_on_write: int | None = None

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.writes = 0

    def write(self, checkpoint: Checkpoint) -> None:
        self.writes += 1
        if self.writes == self.fail_on_write:
            raise OSError(28, "No space left on device (injected)")
        super().write(checkpoint)


class RecordingNetwork(NetworkBackend):
    """Hands out 10.0.0.N and remembers attachments; fails setup when told to."""

    fail_setup = False

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.attached: dict[str, str] = {}
        self.torn_down: list[str] = []
        self.collected: list[set[str]] = []
        self.before_setup: Callable[[PodNetwork], None] | None = None
        self.down: str | None = None

    def status(self) -> RuntimeCondition:
        if self.down is not None:
            raise UnavailableError("recording network", self.down)
        return RuntimeCondition.ready(NETWORK_READY)

    def setup_pod(self, pod: PodNetwork) -> PodSandboxNetworkStatus:
        if self.before_setup is not None:
            self.before_setup(pod)
        if self.fail_setup:
            raise UnavailableError("recording network", "IPAM is exhausted (injected)")
        ip = f"10.0.0.{len(self.attached) + 2}"
        self.attached[pod.sandbox_id] = ip
        return PodSandboxNetworkStatus(ip=ip, additional_ips=(PodIP(ip="fd00::2"),))

    def teardown_pod(self, pod: PodNetwork) -> None:
        self.attached.pop(pod.sandbox_id, None)
        self.torn_down.append(pod.sandbox_id)

    def pod_network_status(self, pod: PodNetwork) -> PodSandboxNetworkStatus | None:
        ip = self.attached.get(pod.sandbox_id)
        return None if ip is None else PodSandboxNetworkStatus(ip=ip)

    def garbage_collect(self, live_sandbox_ids: set[str]) -> None:
        self.collected.append(set(live_sandbox_ids))
        for sandbox_id in set(self.attached) - live_sandbox_ids:
            del self.attached[sandbox_id]


class FaultPlugin:
    """Registers the two wrapped backends."""

    __name__ = "fault-plugin"

    @hookimpl
    def kubert_register_backends(self, register: RegisterBackend) -> None:
        register("faulty-file", FaultyCheckpoints)
        register("recording", RecordingNetwork)
