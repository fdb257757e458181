"""Start-up recovery: after a restart or crash, make the engine, checkpoints and network agree.

What a crash can leave, and what recovery does about it:

* a sandbox the engine runs whose RunPodSandbox never finished (the checkpoint holds no
  network, and the network backend knows no IPs for it): stopped, with its half-made network
  torn down, so the kubelet sees it NOTREADY and replaces it, instead of a ready pod without IP;
* the same, but the network was set up before the crash: its IPs are written into the
  checkpoint, as RunPodSandbox would have;
* a ready sandbox whose StopPodSandbox had begun (the checkpoint says so, see
  :func:`mark_stopping`): stopped, so that it does not stay ready with its network half gone;
* a checkpoint whose sandbox the engine no longer has, or a sandbox without a checkpoint: left
  alone; the service lists both (NOTREADY from the checkpoint, or from the engine's labels) and
  stop/remove clean them up from whichever record is left;
* network attachments no sandbox or checkpoint owns: released (``garbage_collect``).

Garbage collection must see every sandbox, so while the engine is unreachable recovery waits:
the server answers meanwhile (RuntimeReady=false), and a background thread retries until the
engine is back. :class:`RunGate` keeps RunPodSandbox calls out while it collects, since a
sandbox being set up holds an attachment before anything else knows about it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import attrs
from attrs import frozen

from kubert.backends import CheckpointStore, NetworkBackend, PodNetwork, RuntimeBackend
from kubert.errors import NotFoundError, UnavailableError
from kubert.model import Checkpoint, PodSandboxState, PodSandboxStatus

log = logging.getLogger(__name__)

__all__ = ["Recovery", "RecoveryReport", "RecoveryTarget", "RunGate"]

#: Seconds between attempts while the engine is unreachable at start-up.
RETRY_SECONDS = 2.0
#: Checkpoint ``extra`` key set before a stop tears the network down.
STOPPING = "kubert.stopping"


def mark_stopping(store: CheckpointStore, checkpoint: Checkpoint) -> None:
    """Record in the checkpoint that the sandbox is being stopped (once).

    A store that cannot write (a full disk) must not keep the sandbox from stopping: the mark
    only helps recovery after a crash, so its failure is logged and the stop goes on.
    """
    if checkpoint.extra.get(STOPPING) == "1":
        return
    try:
        store.write(attrs.evolve(checkpoint, extra={**checkpoint.extra, STOPPING: "1"}))
    except Exception:
        log.exception("could not mark sandbox %s as stopping in its checkpoint; stopping anyway",
                      checkpoint.sandbox_id)


@frozen
class RecoveryReport:
    """What one recovery pass found and did (sandbox IDs, sorted).

    :ivar sandboxes: how many sandboxes the runtime reported.
    :ivar checkpoints: how many checkpoints were readable.
    :ivar checkpoint_only: checkpoints whose sandbox the engine no longer has.
    :ivar unrecorded: sandboxes the engine has without a (readable) checkpoint.
    :ivar interrupted: ready sandboxes of an unfinished RunPodSandbox, now stopped.
    :ivar stopped: ready sandboxes of an unfinished StopPodSandbox, now stopped.
    :ivar completed: unfinished RunPodSandbox calls whose network was up; now recorded.
    """

    sandboxes: int = 0
    checkpoints: int = 0
    checkpoint_only: tuple[str, ...] = ()
    unrecorded: tuple[str, ...] = ()
    interrupted: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    completed: tuple[str, ...] = ()


class RunGate:
    """RunPodSandbox calls share the gate; garbage collection holds it alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._exclusive = True
            self._cond.wait_for(lambda: self._running == 0)
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class RecoveryTarget(Protocol):
    """What recovery needs of the service it recovers (:class:`kubert.service.KubertService`
    provides it); recovery receives it, so it never imports the service.

    :ivar runtime: the runtime backend (lists sandboxes, reports their status).
    :ivar network: the network backend (pod network status, garbage collection).
    :ivar checkpoints: the checkpoint store.
    :ivar run_gate: the gate RunPodSandbox calls share; recovery holds it alone while it works.
    """

    runtime: RuntimeBackend
    network: NetworkBackend
    checkpoints: CheckpointStore
    run_gate: RunGate

    def sandbox_lock(self, sandbox_id: str) -> AbstractContextManager[None]:
        """The per-sandbox lock StopPodSandbox and RemovePodSandbox hold."""
        ...

    def stop_locked(self, sandbox_id: str) -> None:
        """StopPodSandbox's stop path; the caller holds :meth:`sandbox_lock`."""
        ...

    def pod_network_of(
        self, sandbox_id: str, status: PodSandboxStatus | None, checkpoint: Checkpoint | None
    ) -> PodNetwork | None:
        """The pod as the network backend knows it, from the checkpoint or the status."""
        ...


class Recovery:
    """Recovery passes over one service; :meth:`start` runs one now or keeps retrying."""

    def __init__(self, service: RecoveryTarget) -> None:
        self.service = service
        self.last_report: RecoveryReport | None = None
        self._closed = threading.Event()
        self._retry: threading.Thread | None = None

    def start(self) -> None:
        """Recover now; while the engine is unreachable, retry in the background."""
        try:
            self.run()
        except UnavailableError as error:
            log.warning("start-up recovery waits for the engine: %s", error.message)
            if self._retry is None or not self._retry.is_alive():
                self._retry = threading.Thread(
                    target=self._retry_loop, name="kubert-recovery", daemon=True
                )
                self._retry.start()

    def close(self) -> None:
        self._closed.set()
        if self._retry is not None:
            self._retry.join(timeout=10)

    def _retry_loop(self) -> None:
        while not self._closed.wait(RETRY_SECONDS):
            try:
                self.run()
            except UnavailableError as error:
                log.debug("recovery still waits for the engine: %s", error.message)
                continue
            except Exception:  # a later pass may succeed; the server must keep serving
                log.exception("start-up recovery failed; retrying")
                continue
            return

    def run(self) -> RecoveryReport:
        """One pass. :raises UnavailableError: the runtime cannot list its sandboxes."""
        service = self.service
        with service.run_gate.exclusive():
            sandboxes = {s.id: s for s in service.runtime.list_sandboxes(None)}
            checkpoints = self._read_checkpoints()
            interrupted: list[str] = []
            stopped: list[str] = []
            completed: list[str] = []
            for sandbox_id, checkpoint in checkpoints.items():
                sandbox = sandboxes.get(sandbox_id)
                if sandbox is None or sandbox.state != PodSandboxState.SANDBOX_READY:
                    continue
                if checkpoint.extra.get(STOPPING) == "1":
                    if self._finish_stop(sandbox_id):
                        stopped.append(sandbox_id)
                    continue
                if checkpoint.network is not None or checkpoint.host_network:
                    continue
                outcome = self._finish_run(checkpoint)
                if outcome == "interrupted":
                    interrupted.append(sandbox_id)
                elif outcome == "completed":
                    completed.append(sandbox_id)
            live = set(sandboxes) | set(checkpoints)
            service.network.garbage_collect(live)
        report = RecoveryReport(
            sandboxes=len(sandboxes),
            checkpoints=len(checkpoints),
            checkpoint_only=tuple(sorted(set(checkpoints) - set(sandboxes))),
            unrecorded=tuple(sorted(set(sandboxes) - set(checkpoints))),
            interrupted=tuple(sorted(interrupted)),
            stopped=tuple(sorted(stopped)),
            completed=tuple(sorted(completed)),
        )
        self.last_report = report
        log.info(
            "recovered %d sandboxes and %d checkpoints: %d known only by checkpoint, %d without "
            "checkpoint, %d unfinished RunPodSandbox stopped, %d completed, %d unfinished "
            "StopPodSandbox finished",
            report.sandboxes, report.checkpoints, len(report.checkpoint_only),
            len(report.unrecorded), len(report.interrupted), len(report.completed),
            len(report.stopped),
        )
        return report

    def _read_checkpoints(self) -> dict[str, Checkpoint]:
        """Every readable checkpoint; the store moves corrupt ones aside and reports them."""
        found: dict[str, Checkpoint] = {}
        for sandbox_id in self.service.checkpoints.list():
            try:
                found[sandbox_id] = self.service.checkpoints.read(sandbox_id)
            except NotFoundError as error:
                log.warning("recovery skips checkpoint %s: %s", sandbox_id, error.message)
        return found

    def _finish_stop(self, sandbox_id: str) -> bool:
        """Stop a sandbox whose StopPodSandbox a crash cut short. :returns: whether it did."""
        log.warning("sandbox %s was being stopped when kubert stopped; finishing", sandbox_id)
        try:
            with self.service.sandbox_lock(sandbox_id):
                self.service.stop_locked(sandbox_id)
        except Exception:  # the kubelet retries the stop; recovery goes on
            log.exception("finishing the stop of sandbox %s failed", sandbox_id)
            return False
        return True

    def _finish_run(self, checkpoint: Checkpoint) -> str:
        """Settle a ready sandbox whose RunPodSandbox did not record its network.

        Uses the service's own per-sandbox lock and stop path, so that it cannot race a
        StopPodSandbox of the same sandbox and tears down exactly as stop does.
        """
        service = self.service
        sandbox_id = checkpoint.sandbox_id
        try:
            with service.sandbox_lock(sandbox_id):
                status = service.runtime.sandbox_status(sandbox_id)
                pod = service.pod_network_of(sandbox_id, status, checkpoint)
                network = None if pod is None else service.network.pod_network_status(pod)
                if network is None:
                    log.warning(
                        "sandbox %s was started but its network never finished setting up "
                        "(kubert stopped mid-RunPodSandbox); stopping it", sandbox_id,
                    )
                    service.stop_locked(sandbox_id)
                    return "interrupted"
                netns = pod.netns_path if pod is not None else checkpoint.netns_path
                service.checkpoints.write(
                    attrs.evolve(checkpoint, netns_path=netns, network=network)
                )
                return "completed"
        except NotFoundError:
            return "gone"
        except Exception:  # one sandbox must not keep the others from being recovered
            log.exception("recovering sandbox %s failed; the kubelet will stop it", sandbox_id)
            return "failed"
