"""CRI log files, and the API log follower used where the engine's files cannot be read.

:class:`CriLogFile` is the CRI side of every copy: an append-only file the kubelet names
(``<log_directory>/<log_path>``), lines ``<RFC3339Nano> <stream> <P|F> <text>`` (``F`` ends a
line, ``P`` is a part of a line the engine split), reopened under a lock so a write goes wholly
to the rotated file or wholly to the new one. :class:`LogFollower` is the fallback copier (see
:mod:`kubert_docker.logcopy`): one thread follows one container's engine log stream and, after
a kubert restart, resumes after the last timestamp already in the file.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from kubert_docker.engine import Engine, interrupt
from kubert_docker.status import parse_time

log = logging.getLogger(__name__)

_STREAMS = {1: b"stdout", 2: b"stderr"}
#: The longest a gated follower waits for its caller before asking the engine anyway.
_GATE_SECONDS = 5.0
#: A TTY stream has no message boundaries; a line longer than this is written in parts.
_TTY_MAX_LINE = 16 * 1024


def format_time(ns: int) -> bytes:
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


class LogFollower:
    """Copies one container's engine log stream into its CRI log file, until the stream ends."""

    def __init__(
        self, engine: Engine, container_id: str, path: Path, tty: bool,
        gate: threading.Event | None = None,
    ) -> None:
        """:param gate: when given, the engine is asked for the stream only once it is set
            (so that the request does not compete with the caller's own engine calls)."""
        self.engine = engine
        self.gate = gate
        self.container_id = container_id
        self.path = path
        self.tty = tty
        self.file = CriLogFile(path)
        self._response: Any = None
        self._stopping = False
        self.done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"kubert-docker-log-{container_id[:12]}", daemon=True
        )

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def reopen(self) -> None:
        self.file.reopen()

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)

    def stop(self) -> None:
        """Stop copying now (the container is being removed, or the backend closes)."""
        self._stopping = True
        response = self._response
        if response is not None:
            interrupt(response)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            if self.gate is not None:
                self.gate.wait(_GATE_SECONDS)
            resume_after = last_timestamp(self.path)
            client = self.engine.new_client(timeout=None)
            try:
                params: dict[str, Any] = {
                    "stdout": 1, "stderr": 1, "follow": 1, "timestamps": 0 if self.tty else 1,
                }
                if resume_after:
                    seconds, nanos = divmod(resume_after, 1_000_000_000)
                    params["since"] = f"{seconds}.{nanos:09d}"
                url = f"{client.base_url}/v{client.api_version}/containers/{self.container_id}/logs"
                self._response = response = client.get(url, params=params, stream=True)
                response.raise_for_status()
                if self.tty:
                    self._copy_tty(response.raw)
                else:
                    self._copy_frames(response.raw, resume_after)
            finally:
                client.close()
        except Exception as exc:  # a log copier must never take the backend down
            if not self._stopping:
                log.warning("log of container %s stopped: %s", self.container_id[:12], exc)
        finally:
            self.file.close()
            self.done.set()

    def _copy_frames(self, raw: Any, resume_after: int) -> None:
        while True:
            header = _read_exactly(raw, 8)
            if header is None:
                return
            kind, size = struct.unpack(">BxxxL", header)
            payload = _read_exactly(raw, size) or b""
            stream = _STREAMS.get(kind)
            if stream is None:
                continue
            stamp, _, text = payload.partition(b" ")
            if resume_after and parse_time(stamp.decode()) <= resume_after:
                continue
            partial = not text.endswith(b"\n")
            self.file.write(stamp, stream, partial, text if partial else text[:-1])

    def _copy_tty(self, raw: Any) -> None:
        pending = b""
        while True:
            chunk = raw.read1(65536) if hasattr(raw, "read1") else raw.read(4096)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            stamp = format_time(time.time_ns())
            for line in lines:
                self.file.write(stamp, b"stdout", False, line.rstrip(b"\r"))
            while len(pending) > _TTY_MAX_LINE:
                self.file.write(stamp, b"stdout", True, pending[:_TTY_MAX_LINE])
                pending = pending[_TTY_MAX_LINE:]
        if pending:
            self.file.write(format_time(time.time_ns()), b"stdout", True, pending)


def _read_exactly(raw: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = raw.read(size - len(data))
        if not chunk:
            return data if data else None
        data += chunk
    return data
