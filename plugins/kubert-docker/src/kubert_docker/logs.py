"""CRI log files: the side of every log copy that the kubelet reads.

:class:`CriLogFile` is an append-only file the kubelet names (``<log_directory>/<log_path>``),
lines ``<RFC3339Nano> <stream> <P|F> <text>`` (``F`` ends a line, ``P`` is a part of a line
the engine split), reopened under a lock so a write goes wholly to the rotated file or wholly
to the new one.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

from kubert_docker.status import parse_time


def format_time(ns: int) -> bytes:
    """Unix nanoseconds as the CRI's ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z").encode()


def last_timestamp(path: Path) -> int:
    """The timestamp (Unix ns) of the last complete line of a CRI log file, 0 if none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except OSError:
        return 0
    for line in reversed(tail.split(b"\n")):
        stamp = line.split(b" ", 1)[0]
        if stamp:
            try:
                return parse_time(stamp.decode())
            except (ValueError, UnicodeDecodeError):
                continue
    return 0


class CriLogFile:
    """An append-only CRI log file that can be reopened (after the kubelet rotated it).

    :ivar ino: the inode of the file now open.
    :ivar size: its size: what it held when opened plus what was written since.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = self.path.open("ab", buffering=0)
        info = os.fstat(self._fh.fileno())
        self.ino, self.size = info.st_ino, info.st_size

    def write(self, stamp: bytes, stream: bytes, partial: bool, text: bytes) -> None:
        self.write_lines(
            b"".join((stamp, b" ", stream, b" P " if partial else b" F ", text, b"\n"))
        )

    def write_lines(self, data: bytes) -> None:
        """Append ``data`` (whole CRI lines) with one write, so a reopen never splits it."""
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[self._fh.write(view) or 0:]
            self.size += len(data)

    def reopen(self) -> None:
        with self._lock:
            self._fh.close()
            self._open()

    def close(self) -> None:
        with self._lock:
            self._fh.close()
