"""One thread that copies the logs of every container whose engine log files kubert can read.

The thread visits the containers in turn, copying at most :data:`QUANTUM` bytes of each per
round, so one loud container cannot starve the others; a container being drained (it exited)
gets up to :data:`FINAL_QUANTA` quanta a round so that its exit is reported soon. When no
container had anything new, it sleeps :data:`IDLE_SECONDS` or until woken by a new container,
a drain, a removal or close.

Reading may lag behind the engine without loss (open files stay readable), but each new
engine file must be opened before the engine deletes it, so every :data:`WATCH_SECONDS`
between two quanta the thread looks for new files of all containers (a stat each).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from kubert_docker.logtail import Checkpoint, LogTail

log = logging.getLogger(__name__)

#: Bytes of one container's engine log copied before the next container's turn.
QUANTUM = 256 * 1024
#: Quanta a draining container gets per round.
FINAL_QUANTA = 16
#: Longest time between two looks for new engine files of every container.
WATCH_SECONDS = 0.05
#: How long the thread sleeps when every container is caught up (the copy's idle latency).
IDLE_SECONDS = 0.1


class LogShipper:
    """Log copies of many containers on one thread.

    :param checkpoint_dir: where each container's checkpoint (``<id>.json``) is kept.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir
        self._tails: dict[str, LogTail] = {}
        self._discarded: list[LogTail] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._watched_at = 0.0
        self._thread = threading.Thread(target=self._run, name="kubert-docker-logs", daemon=True)

    def add(
        self, container_id: str, engine_log: Path, cri_path: Path, tty: bool, running: bool,
        fresh: bool = False,
    ) -> None:
        """Copy ``container_id``'s log (again, from its checkpoint); a container that is not
        running is copied to the end of what the engine holds, then let go."""
        with self._lock:
            current = self._tails.get(container_id)
        if current is not None:
            if not running:
                self._finalize(current)
            return
        checkpoint_path = self.checkpoint_dir / f"{container_id}.json"
        if not running:
            previous = Checkpoint.load(checkpoint_path)
            if previous is not None and previous.complete:
                return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        tail = LogTail(container_id, engine_log, cri_path, checkpoint_path, tty, fresh)
        tail.final = not running
        with self._lock:
            if self._closing or container_id in self._tails:
                tail.finish(complete=False)
                return
            self._tails[container_id] = tail
            if not self._thread.is_alive():
                self._thread.start()
        self._wake.set()

    def copying(self, container_id: str) -> bool:
        """Whether this shipper copies the container's log now."""
        with self._lock:
            return container_id in self._tails

    def drain(self, container_id: str, timeout: float) -> None:
        """Copy the rest of an exited container's log; wait up to ``timeout`` seconds."""
        with self._lock:
            tail = self._tails.get(container_id)
        if tail is not None:
            self._finalize(tail)
            tail.done.wait(timeout)

    def reopen(self, container_id: str) -> bool:
        """Reopen the container's CRI file; False when this shipper does not copy it."""
        with self._lock:
            tail = self._tails.get(container_id)
        if tail is None or tail.done.is_set():
            return False
        tail.reopen()
        return True

    def forget(self, container_id: str) -> None:
        """Stop copying a removed container and delete its checkpoint."""
        with self._lock:
            tail = self._tails.pop(container_id, None)
            if tail is not None:
                self._discarded.append(tail)
        if tail is None:
            (self.checkpoint_dir / f"{container_id}.json").unlink(missing_ok=True)
        else:
            self._wake.set()

    def prune(self, containers: set[str]) -> None:
        """Delete the checkpoints of containers not in ``containers`` (the engine's)."""
        if not self.checkpoint_dir.is_dir():
            return
        for path in self.checkpoint_dir.iterdir():
            if path.name.split(".", 1)[0] not in containers:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the thread; every copy is checkpointed where it stands."""
        with self._lock:
            self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._release()
        with self._lock:
            tails, self._tails = list(self._tails.values()), {}
        for tail in tails:
            tail.finish(complete=False)

    def _finalize(self, tail: LogTail) -> None:
        tail.final = True
        self._wake.set()

    def _release(self) -> None:
        with self._lock:
            discarded, self._discarded = self._discarded, []
        for tail in discarded:
            tail.discard()

    def _run(self) -> None:
        while not self._closing:
            # Cleared before the round: a wake-up during the round makes the wait below
            # return at once instead of being lost.
            self._wake.clear()
            self._release()
            with self._lock:
                tails = list(self._tails.values())
            busy = False
            for tail in tails:
                if self._closing:
                    break
                busy |= self._visit(tail, tails)
            if not busy:
                self._wake.wait(IDLE_SECONDS)

    def _watch(self, tails: list[LogTail]) -> None:
        now = time.monotonic()
        if now - self._watched_at < WATCH_SECONDS:
            return
        self._watched_at = now
        for tail in tails:
            if not tail.done.is_set():
                with contextlib.suppress(OSError):  # the step reports it
                    tail.watch()

    def _visit(self, tail: LogTail, tails: list[LogTail]) -> bool:
        """One turn of one container; returns whether it copied anything."""
        copied = False
        try:
            for _ in range(FINAL_QUANTA if tail.final else 1):
                self._watch(tails)
                if not tail.step(QUANTUM):
                    break
                copied = True
            else:
                return copied
            if tail.final:
                self._let_go(tail, complete=True)
        except Exception as exc:  # one container's failure must not stop the others' logs
            log.warning("log of container %s stopped: %s", tail.container_id[:12], exc)
            self._let_go(tail, complete=False)
        return copied

    def _let_go(self, tail: LogTail, complete: bool) -> None:
        with self._lock:
            if self._tails.get(tail.container_id) is not tail:
                return  # forgotten meanwhile: discarded instead
            del self._tails[tail.container_id]
        tail.finish(complete=complete)
