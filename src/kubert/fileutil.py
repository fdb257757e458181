"""atomic_write: replace a file so that a crash at any moment leaves the old or the new content.

Checkpoints, the kubelet's pod store, CNI result caches and plugin records all need the same
sequence: temp file in the same directory, write, fsync, rename over the target, fsync the
directory (so the rename itself survives a power cut).

:data:`DURABILITY` counts what that costs (fsyncs, atomic writes, checkpoint writes and
deletes) for the ``kubert_fsyncs_total``-style metrics and the benchmarks.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from attrs import define, field


@define
class DurabilityCounts:
    """Counts of durable writes since the process started (read them, never reset them)."""

    fsyncs: int = 0
    atomic_writes: int = 0
    checkpoint_writes: int = 0
    checkpoint_deletes: int = 0
    _lock: threading.Lock = field(factory=threading.Lock, repr=False, eq=False)

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "fsyncs": self.fsyncs,
                "atomic_writes": self.atomic_writes,
                "checkpoint_writes": self.checkpoint_writes,
                "checkpoint_deletes": self.checkpoint_deletes,
            }


#: The process's counts.
DURABILITY = DurabilityCounts()


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o600) -> None:
    """Atomically create or replace ``path`` with ``data``.

    :param path: the target; its parent directory is created if missing.
    :param data: the whole new content (``str`` is written as UTF-8).
    :param mode: permission bits of the new file.
    :raises OSError: the write failed; the target is unchanged and no temp file is left.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    content = data.encode() if isinstance(data, str) else data
    # The ".<name>.tmp-" prefix lets stores recognise (and sweep) leftovers of a crashed write.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            DURABILITY.add("fsyncs")
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    DURABILITY.add("atomic_writes")


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (renames, unlinks) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
        DURABILITY.add("fsyncs")
    finally:
        os.close(fd)
