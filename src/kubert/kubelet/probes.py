"""Liveness, readiness and startup probes, run apart from the syncs (the kubelet's prober).

A sync hands the manager the pod's running containers (:meth:`ProbeManager.track`) and reads
the results (:meth:`ProbeManager.verdicts`, :meth:`ProbeManager.ready`); it never waits for a
probe. Probes run in :meth:`ProbeManager.run_due`: each on its own period and timeout, the
initial delay counted from the container's StartedAt. With the real clock a background thread
calls it (started when the first probe is tracked, gone when none is left); with a FakeClock the
caller does, so tests decide when probes run.

Results follow the kubelet: liveness starts as success and fails after ``failureThreshold``
consecutive failures; readiness starts as failure (not ready) and needs ``successThreshold``
consecutive successes; startup is unknown until one success (then it stops) or
``failureThreshold`` failures. Liveness and readiness wait until startup succeeded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from attrs import define, field

from kubert.kubelet.actions import ProbeVerdicts
from kubert.kubelet.clock import Clock, SystemClock
from kubert.kubelet.observe import PodRuntimeStatus
from kubert.kubelet.pod import Pod
from kubert.kubelet.probers import run_probe
from kubert.kubelet.probespec import Probe
from kubert.kubelet.runtime import RuntimeClient

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
SUCCESS, FAILURE, UNKNOWN = "Success", "Failure", "Unknown"
#: How often the background thread looks for due probes (seconds).
TICK = 0.1

Prober = Callable[[RuntimeClient, str, Probe, str, tuple[tuple[str, int], ...]], tuple[bool, str]]


@define
class ProbeWorker:
    """One probe of one container and what it said so far."""

    container_id: str
    name: str
    pod_uid: str
    kind: str
    probe: Probe
    started_at: float
    pod_ip: str
    named_ports: tuple[tuple[str, int], ...]
    result: str = UNKNOWN
    successes: int = 0
    failures: int = 0
    last_run: float | None = None
    runs: int = 0
    message: str = ""
    in_flight: bool = False

    def __attrs_post_init__(self) -> None:
        self.result = {LIVENESS: SUCCESS, READINESS: FAILURE}.get(self.kind, UNKNOWN)

    def due(self, now: float) -> bool:
        if self.in_flight or (self.kind == STARTUP and self.result != UNKNOWN):
            return False
        # a runtime clock ahead of ours counts as just started
        if max(0.0, now - self.started_at) < self.probe.initial_delay_seconds:
            return False
        return self.last_run is None or now >= self.last_run + self.probe.period_seconds

    def record(self, ok: bool, message: str) -> None:
        self.runs += 1
        self.message = message
        if ok:
            self.failures = 0
            self.successes += 1
            if self.successes >= self.probe.success_threshold:
                self.result = SUCCESS
        else:
            self.successes = 0
            self.failures += 1
            if self.failures >= self.probe.failure_threshold:
                self.result = FAILURE


@define
class ProbeManager:
    """Probe workers of every running container with probes this kubelet runs."""

    runtime: RuntimeClient
    clock: Clock = field(factory=SystemClock)
    prober: Prober = field(default=run_probe)
    #: Start a background thread that runs due probes (default: only with the real clock).
    background: bool | None = None
    _workers: dict[tuple[str, str], ProbeWorker] = field(init=False, factory=dict)
    _lock: threading.Lock = field(init=False, factory=threading.Lock)
    _thread: threading.Thread | None = field(init=False, default=None)
    _pool: ThreadPoolExecutor | None = field(init=False, default=None)

    def track(self, pod: Pod, status: PodRuntimeStatus) -> None:
        """Make workers for ``pod``'s running containers' probes; drop those of gone ones."""
        ip = status.ips[0] if status.ips else ""
        running = set()
        with self._lock:
            for current in status.running_containers():
                spec = pod.find_container(current.name)
                if spec is None or current.hash == "":
                    continue
                running.add(current.id)
                named = tuple((p.name, p.container_port) for p in spec.ports if p.name)
                started = current.status.started_at / 1e9 or self.clock.now()
                for kind, probe in (
                    (STARTUP, spec.startup_probe),
                    (LIVENESS, spec.liveness_probe),
                    (READINESS, spec.readiness_probe),
                ):
                    key = (current.id, kind)
                    if probe is None or key in self._workers:
                        continue
                    self._workers[key] = ProbeWorker(
                        container_id=current.id, name=current.name, pod_uid=pod.uid, kind=kind,
                        probe=probe, started_at=started, pod_ip=ip, named_ports=named,
                    )
            for key in [k for k, w in self._workers.items() if w.pod_uid == pod.uid]:
                if key[0] not in running:
                    del self._workers[key]
            wanted = bool(self._workers)
        if wanted and self._background():
            self._ensure_thread()

    def forget_pod(self, uid: str) -> None:
        with self._lock:
            for key in [k for k, w in self._workers.items() if w.pod_uid == uid]:
                del self._workers[key]

    def forget(self, container_id: str) -> None:
        with self._lock:
            for kind in (STARTUP, LIVENESS, READINESS):
                self._workers.pop((container_id, kind), None)

    def result(self, container_id: str, kind: str) -> str | None:
        """The current result of one probe; None when the container has no such probe."""
        with self._lock:
            worker = self._workers.get((container_id, kind))
            return None if worker is None else worker.result

    def worker(self, container_id: str, kind: str) -> ProbeWorker | None:
        with self._lock:
            return self._workers.get((container_id, kind))

    def started(self, container_id: str) -> bool | None:
        """Whether the startup probe of ``container_id`` succeeded; None when it has none."""
        result = self.result(container_id, STARTUP)
        return None if result is None else result == SUCCESS

    def ready(self, container_id: str) -> bool:
        """The kubelet's readiness of a running container: started, and readiness passed."""
        if self.started(container_id) is False:
            return False
        return self.result(container_id, READINESS) in (None, SUCCESS)

    def verdicts(self, status: PodRuntimeStatus) -> ProbeVerdicts:
        """What the probes said about ``status``'s running containers, for computePodActions."""
        liveness_failed, startup_failed, not_started = set(), set(), set()
        for current in status.running_containers():
            started = self.result(current.id, STARTUP)
            if started == FAILURE:
                startup_failed.add(current.id)
            elif started == UNKNOWN:
                not_started.add(current.id)
            elif self.result(current.id, LIVENESS) == FAILURE:
                liveness_failed.add(current.id)
        return ProbeVerdicts(
            liveness_failed=liveness_failed, startup_failed=startup_failed, not_started=not_started
        )

    def run_due(self, wait: bool = True) -> int:
        """Start every due probe, each in its own thread; :returns: how many were started.

        :param wait: return when they finished (tests with a FakeClock); the background thread
            does not wait, so a slow probe delays no other.
        """
        now = self.clock.now()
        with self._lock:
            due = []
            for worker in self._workers.values():
                if worker.kind != STARTUP and self._waiting_for_startup(worker):
                    continue
                if worker.due(now):
                    worker.in_flight = True
                    worker.last_run = now
                    due.append(worker)
        if not due:
            return 0
        pool = self._executor()
        futures: list[Future[None]] = [pool.submit(self._probe, w) for w in due]
        if wait:
            for future in futures:
                future.result()
        return len(due)

    def _waiting_for_startup(self, worker: ProbeWorker) -> bool:
        startup = self._workers.get((worker.container_id, STARTUP))
        return startup is not None and startup.result != SUCCESS

    def _probe(self, worker: ProbeWorker) -> None:
        try:
            ok, message = self.prober(
                self.runtime, worker.container_id, worker.probe, worker.pod_ip, worker.named_ports
            )
        except Exception as exc:  # a prober bug must not stop the probe loop
            ok, message = False, f"probe error: {exc}"
        with self._lock:
            worker.in_flight = False
            worker.record(ok, message)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="kubert-probe")
            return self._pool

    def _background(self) -> bool:
        if self.background is not None:
            return self.background
        return isinstance(self.clock, SystemClock)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._loop, name="kubert-prober", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._workers:
                    self._thread = None
                    return
            try:
                self.run_due(wait=False)
            except RuntimeError:  # the interpreter is shutting down: no new probe threads
                with self._lock:
                    self._thread = None
                return
            self.clock.sleep(TICK)
