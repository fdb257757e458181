"""Liveness and startup probes with exec, run through ExecSync, driven by the sync loop.

Each running container with probes has a state per probe; ``run`` executes the probes that are
due (initial delay and period count from when kubert first saw the container running) and
returns the verdicts :func:`~kubert.kubelet.actions.compute_pod_actions` reads. Liveness is
not probed until the startup probe (if any) has succeeded, as in the kubelet.
"""

from __future__ import annotations

import logging

from attrs import define, field

from kubert.errors import KubertError
from kubert.kubelet.actions import ProbeVerdicts
from kubert.kubelet.clock import Clock, SystemClock
from kubert.kubelet.observe import PodRuntimeStatus
from kubert.kubelet.pod import Pod, Probe
from kubert.kubelet.runtime import RuntimeClient

log = logging.getLogger(__name__)


@define
class _ProbeState:
    first_seen: float
    last_run: float | None = None
    failures: int = 0
    succeeded: bool = False
    failed: bool = False


@define
class ProbeManager:
    """Probe states of every container of every pod this kubelet runs."""

    runtime: RuntimeClient
    clock: Clock = field(factory=SystemClock)
    _states: dict[tuple[str, str], _ProbeState] = field(init=False, factory=dict)

    def run(self, pod: Pod, status: PodRuntimeStatus) -> ProbeVerdicts:
        """Run the due probes of ``pod``'s running containers; return every verdict."""
        liveness_failed: set[str] = set()
        startup_failed: set[str] = set()
        not_started: set[str] = set()
        live_ids = set()
        now = self.clock.now()
        for current in status.running_containers():
            spec = pod.find_container(current.name)
            if spec is None or current.hash == "":
                continue
            live_ids.add(current.id)
            if spec.startup_probe is not None:
                state = self._state(current.id, "startup", now)
                if not state.succeeded and not state.failed:
                    self._maybe_probe(current.id, spec.startup_probe, state, now)
                if state.failed:
                    startup_failed.add(current.id)
                    continue
                if not state.succeeded:
                    not_started.add(current.id)
                    continue
            if spec.liveness_probe is not None:
                state = self._state(current.id, "liveness", now)
                if not state.failed:
                    self._maybe_probe(current.id, spec.liveness_probe, state, now)
                if state.failed:
                    liveness_failed.add(current.id)
        uid_ids = {c.id for c in status.containers}
        for key in [k for k in self._states if k[0] in uid_ids and k[0] not in live_ids]:
            del self._states[key]
        return ProbeVerdicts(
            liveness_failed=liveness_failed, startup_failed=startup_failed, not_started=not_started
        )

    def started(self, container_id: str) -> bool | None:
        """Whether the startup probe of ``container_id`` succeeded; None when it has none."""
        state = self._states.get((container_id, "startup"))
        return None if state is None else state.succeeded

    def forget(self, container_id: str) -> None:
        for kind in ("startup", "liveness"):
            self._states.pop((container_id, kind), None)

    def _state(self, container_id: str, kind: str, now: float) -> _ProbeState:
        return self._states.setdefault((container_id, kind), _ProbeState(first_seen=now))

    def _maybe_probe(self, container_id: str, probe: Probe, state: _ProbeState, now: float) -> None:
        if now < state.first_seen + probe.initial_delay_seconds:
            return
        if state.last_run is not None and now < state.last_run + probe.period_seconds:
            return
        state.last_run = now
        if self._exec(container_id, probe):
            state.failures = 0
            state.succeeded = True
            return
        state.failures += 1
        if state.failures >= probe.failure_threshold:
            state.failed = True

    def _exec(self, container_id: str, probe: Probe) -> bool:
        try:
            result = self.runtime.exec_sync(
                container_id, list(probe.exec.command), probe.timeout_seconds
            )
        except KubertError as exc:
            log.info("probe of %s failed: %s", container_id[:12], exc)
            return False
        return result.exit_code == 0
