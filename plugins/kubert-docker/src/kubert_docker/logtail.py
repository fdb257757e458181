"""One container's log copy from the engine's json-file to its CRI file, with its checkpoint.

The checkpoint says which CRI file size corresponds to which position in the engine's files.
Conversion is deterministic (:mod:`kubert_docker.jsonlog`), so a kubert that was killed after
writing lines but before checkpointing them resumes at the checkpointed position and drops
exactly the bytes the CRI file already holds beyond the checkpointed size: nothing is lost
and nothing repeated, however stale the checkpoint. A checkpoint is written whenever reading
moves to the engine's next file (the checkpointed file is then always the one the bytes after
it came from), at each reopen, at the end, and otherwise every :data:`CHECKPOINT_SECONDS`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path

from attrs import asdict, evolve, frozen

from kubert_docker.enginelogs import EngineLogFiles, FilePosition
from kubert_docker.jsonlog import convert
from kubert_docker.logs import CriLogFile

log = logging.getLogger(__name__)

#: Longest time between checkpoints of a container that keeps writing.
CHECKPOINT_SECONDS = 1.0
#: A record longer than this without a newline is not the engine's (its records are < 100 KiB).
_MAX_PENDING = 4 * 1024 * 1024


@frozen
class Checkpoint:
    """What a restarted kubert needs to resume one container's copy exactly.

    :ivar source: the position in the engine's files; None when no file existed yet.
    :ivar cri_ino: inode of the CRI file that was open.
    :ivar cri_size: its size that corresponds to ``source``.
    :ivar complete: the container had exited and everything was copied.
    """

    source: FilePosition | None
    cri_ino: int
    cri_size: int
    complete: bool = False

    @classmethod
    def load(cls, path: Path) -> Checkpoint | None:
        try:
            data = json.loads(path.read_bytes())
            source = data.get("source")
            return cls(
                source=FilePosition(**source) if source else None,
                cri_ino=int(data["cri_ino"]),
                cri_size=int(data["cri_size"]),
                complete=bool(data.get("complete", False)),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring the unreadable log checkpoint %s: %s", path, exc)
            return None

    def save(self, path: Path) -> None:
        """Write atomically (a reader sees the old or the new checkpoint, never a mix)."""
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        os.replace(temporary, path)


def _bytes_after(checkpoint: Checkpoint, cri_path: Path) -> int:
    """How many bytes the CRI file holds beyond the checkpoint: the kubelet may have rotated
    the file the checkpoint names to a sibling name while kubert was down."""
    candidates = [cri_path]
    with contextlib.suppress(OSError):
        candidates += [p for p in cri_path.parent.iterdir() if p != cri_path]
    for candidate in candidates:
        with contextlib.suppress(OSError):
            info = candidate.stat()
            if info.st_ino == checkpoint.cri_ino:
                return max(0, info.st_size - checkpoint.cri_size)
    return 0


class LogTail:
    """Copies one container's json-file log into its CRI log file.

    Only the shipper's thread calls :meth:`step` and :meth:`finish`; :meth:`reopen` comes from
    a CRI call and is serialized with the writes by the tail's lock.

    :param engine_log: the engine's current json-file of the container.
    :param cri_path: the CRI log file the kubelet named.
    :param checkpoint_path: where this container's checkpoint lives.
    :param tty: the container has a TTY.
    """

    def __init__(
        self, container_id: str, engine_log: Path, cri_path: Path, checkpoint_path: Path,
        tty: bool, fresh: bool = False,
    ) -> None:
        self.container_id = container_id
        self.tty = tty
        self.checkpoint_path = checkpoint_path
        self.final = False
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._pending = b""
        self._saved_at = 0.0
        previous = Checkpoint.load(checkpoint_path)
        self.file = CriLogFile(cri_path)
        self.files = EngineLogFiles(engine_log)
        if previous is None:
            # A container started just now: whatever the CRI file holds already is another
            # container's (a client that reuses a log path), so append, as containerd does.
            # Otherwise (a copy found without its checkpoint, e.g. written by an older kubert)
            # what the file holds is what the deterministic conversion writes again: skip it.
            self._skip = 0 if fresh else self.file.size
            self.files.open_from(None)
        else:
            self._skip = _bytes_after(previous, cri_path)
            if not self.files.open_from(previous.source):
                log.warning(
                    "container %s: the engine rotated away log data kubert had not copied "
                    "yet (kubert was down longer than the engine keeps its files)",
                    container_id[:12],
                )
                self._skip = 0
        self.complete = bool(previous and previous.complete)
        self._save()

    def step(self, quantum: int) -> bool:
        """Copy up to ``quantum`` bytes of the engine's log.

        :returns: whether there was anything to do (False: caught up with the engine).
        """
        # Under the lock: a checkpoint taken by a reopen must not see the engine's position
        # advanced past bytes not yet in the CRI file.
        with self._lock:
            return self._step(quantum)

    def watch(self) -> None:
        """Open the engine's files created since the last look (before it can delete them)."""
        with self._lock:
            if self.files.changed():
                self.files.scan()

    def _step(self, quantum: int) -> bool:
        if self.files.changed():
            self.files.scan()
        data, switched = self.files.read(quantum)
        if switched:
            if self._pending:
                log.warning("container %s: dropped a torn engine log record: %.200r",
                            self.container_id[:12], self._pending)
                self._pending = b""
            self._save_locked()
            return True
        if not data:
            return False
        buffer = self._pending + data if self._pending else data
        cut = buffer.rfind(b"\n")
        if cut < 0:
            self._pending = buffer if len(buffer) <= _MAX_PENDING else b""
            return True
        self._pending = buffer[cut + 1:]
        out = convert(buffer[:cut].split(b"\n"), self.tty)
        if self._skip:
            dropped = min(self._skip, len(out))
            out, self._skip = out[dropped:], self._skip - dropped
        if out:
            self.file.write_lines(out)
        if time.monotonic() - self._saved_at >= CHECKPOINT_SECONDS:
            self._save_locked()
        return True

    def reopen(self) -> None:
        """Continue in a new file at the CRI path (the kubelet renamed the old one)."""
        with self._lock:
            self.file.reopen()
            self._save_locked()

    def finish(self, complete: bool) -> None:
        """Checkpoint and release the files; ``complete`` when the container had exited and
        everything was copied."""
        self.complete = complete
        self._save()
        self.files.close()
        self.file.close()
        self.done.set()

    def discard(self) -> None:
        """Release the files and forget the checkpoint (the container is removed)."""
        self.files.close()
        self.file.close()
        try:
            self.checkpoint_path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove the log checkpoint %s: %s", self.checkpoint_path, exc)
        self.done.set()

    def _save(self) -> None:
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        position = self.files.position
        if position is not None:
            position = evolve(position, offset=position.offset - len(self._pending))
        checkpoint = Checkpoint(
            source=position, cri_ino=self.file.ino,
            cri_size=max(0, self.file.size - self._skip), complete=self.complete,
        )
        try:
            checkpoint.save(self.checkpoint_path)
        except OSError as exc:
            log.warning("cannot write the log checkpoint %s: %s", self.checkpoint_path, exc)
        self._saved_at = time.monotonic()
