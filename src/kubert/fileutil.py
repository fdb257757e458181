"""atomic_write: replace a file so that a crash at any moment leaves the old or the new content.

Checkpoints, the kubelet's pod store, CNI result caches and plugin records all need the same
sequence: temp file in the same directory, write, fsync, rename over the target, fsync the
directory (so the rename itself survives a power cut).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (renames, unlinks) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
