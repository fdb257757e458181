"""The fallback copy over the engine's log API: one selector thread for all such containers.

Used where kubert cannot read the engine's files (see :mod:`kubert_docker.logcopy`). Each
container has one streaming ``GET /containers/<id>/logs?follow=1`` on its own connection;
one thread waits on all of them and turns what arrives into CRI lines: the engine's frames
(8-byte header, then ``<stamp> <text>``) or, for a TTY, raw bytes split at newlines. A copy
resumed after a kubert restart asks for what came after the last timestamp in the CRI file.
The API inherits the engine's limits: Docker 20.10's follower stops at the engine's own
rotation, which is why this is only the fallback.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from kubert_docker.engine import MIN_API_VERSION, Engine
from kubert_docker.engineapi import engine_address, open_engine_socket
from kubert_docker.logs import CriLogFile, format_time, last_timestamp
from kubert_docker.status import parse_time

log = logging.getLogger(__name__)

_STREAMS = {1: b"stdout", 2: b"stderr"}
#: A TTY stream has no message boundaries; a line longer than this is written in parts.
_TTY_MAX_LINE = 16 * 1024
_RECV = 256 * 1024


def _connect(endpoint: str) -> socket.socket:
    """A connected socket to the engine; :raises OSError: unreachable or not an endpoint."""
    try:
        address = engine_address(endpoint)
    except ValueError as exc:
        raise OSError(f"cannot follow logs: {exc}") from None
    return open_engine_socket(address, 5)


class _Stream:
    """One container's log stream: HTTP response, chunked body, frames, CRI lines."""

    def __init__(self, container_id: str, path: Path, tty: bool) -> None:
        self.container_id = container_id
        self.tty = tty
        self.file = CriLogFile(path)
        self.resume_after = last_timestamp(path)
        self.done = threading.Event()
        self.sock: socket.socket | None = None
        self._raw = bytearray()
        self._body = bytearray()
        self._headers = False
        self._chunked = False
        self._chunk_left = -1  # -1: a chunk size line comes next; -2: the CRLF after a chunk
        self._pending = b""

    def request(self, api_version: str) -> bytes:
        query: dict[str, str | int] = {
            "stdout": 1, "stderr": 1, "follow": 1, "timestamps": 0 if self.tty else 1,
        }
        if self.resume_after:
            seconds, nanos = divmod(self.resume_after, 1_000_000_000)
            query["since"] = f"{seconds}.{nanos:09d}"
        target = f"/v{api_version}/containers/{self.container_id}/logs?{urlencode(query)}"
        return f"GET {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode()

    def feed(self, data: bytes) -> None:
        """Take bytes of the response; write the complete lines they finish."""
        self._raw += data
        if not self._headers:
            end = self._raw.find(b"\r\n\r\n")
            if end < 0:
                if len(self._raw) > 65536:
                    raise OSError("the engine's response headers are too long")
                return
            head = bytes(self._raw[:end]).decode("latin-1").split("\r\n")
            del self._raw[:end + 4]
            status = head[0].split(" ", 2)
            if len(status) < 2 or status[1] != "200":
                raise OSError(f"the engine answered {head[0]!r}")
            self._headers = True
            self._chunked = any(
                h.lower().startswith("transfer-encoding:") and "chunked" in h.lower()
                for h in head[1:]
            )
        self._dechunk()
        out = self._tty_lines() if self.tty else self._frame_lines()
        if out:
            self.file.write_lines(b"".join(out))

    def _dechunk(self) -> None:
        raw = self._raw
        if not self._chunked:
            self._body += raw
            raw.clear()
            return
        while raw:
            if self._chunk_left == -1:
                end = raw.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(raw[:end]).split(b";")[0], 16)
                del raw[:end + 2]
                self._chunk_left = size if size else -3
            elif self._chunk_left == -2:
                if len(raw) < 2:
                    return
                del raw[:2]
                self._chunk_left = -1
            elif self._chunk_left == -3:  # the last chunk: the stream has ended
                raw.clear()
            else:
                take = min(self._chunk_left, len(raw))
                self._body += raw[:take]
                del raw[:take]
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._chunk_left = -2

    def _frame_lines(self) -> list[bytes]:
        body, out, at = self._body, [], 0
        while len(body) - at >= 8:
            kind, size = struct.unpack_from(">BxxxL", body, at)
            if len(body) - at - 8 < size:
                break
            payload = bytes(body[at + 8:at + 8 + size])
            at += 8 + size
            stream = _STREAMS.get(kind)
            if stream is None:
                continue
            stamp, _, text = payload.partition(b" ")
            if self.resume_after and parse_time(stamp.decode()) <= self.resume_after:
                continue
            tag = b" F " if text.endswith(b"\n") else b" P "
            out.append(b"".join((stamp, b" ", stream, tag, text.removesuffix(b"\n"), b"\n")))
        del body[:at]
        return out

    def _tty_lines(self) -> list[bytes]:
        pending = self._pending + bytes(self._body)
        self._body.clear()
        *lines, pending = pending.split(b"\n")
        stamp = format_time(time.time_ns())
        out = [b"%s stdout F %s\n" % (stamp, line.removesuffix(b"\r")) for line in lines]
        while len(pending) > _TTY_MAX_LINE:
            out.append(b"%s stdout P %s\n" % (stamp, pending[:_TTY_MAX_LINE]))
            pending = pending[_TTY_MAX_LINE:]
        self._pending = pending
        return out

    def end(self) -> None:
        if self._pending:
            self.file.write_lines(b"%s stdout P %s\n" % (format_time(time.time_ns()),
                                                         self._pending))
            self._pending = b""
        if self.sock is not None:
            self.sock.close()
        self.file.close()
        self.done.set()


class ApiLogPump:
    """Follows the log streams of many containers on one thread.

    :param engine: the engine whose API serves the streams.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._streams: dict[str, _Stream] = {}
        self._new: list[_Stream] = []
        self._dropped: list[_Stream] = []
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="kubert-docker-logapi",
                                        daemon=True)

    def add(self, container_id: str, path: Path, tty: bool) -> None:
        """Follow the container's log (from after the last line its CRI file holds)."""
        with self._lock:
            current = self._streams.get(container_id)
            if self._closing or (current is not None and not current.done.is_set()):
                return
            stream = _Stream(container_id, path, tty)
            self._streams[container_id] = stream
            self._new.append(stream)
            if not self._thread.is_alive():
                self._thread.start()
        self._wake()

    def get(self, container_id: str) -> _Stream | None:
        """The container's stream while it is being followed."""
        with self._lock:
            stream = self._streams.get(container_id)
        return stream if stream is not None and not stream.done.is_set() else None

    def drain(self, container_id: str, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the engine to end the stream (its exit)."""
        with self._lock:
            stream = self._streams.get(container_id)
        if stream is not None:
            stream.done.wait(timeout)

    def forget(self, container_id: str) -> None:
        """Stop following a removed container."""
        with self._lock:
            stream = self._streams.pop(container_id, None)
            if stream is not None:
                self._dropped.append(stream)
        if stream is not None:
            self._wake()

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._wake()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for stream in [*self._streams.values(), *self._new]:
            if not stream.done.is_set():
                stream.end()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        while not self._closing:
            with self._lock:
                new, self._new = self._new, []
                dropped, self._dropped = self._dropped, []
            for stream in new:
                self._open(stream)
            for stream in dropped:
                self._finish(stream)
            for key, _ in self._selector.select():
                if key.fileobj is self._wake_r:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                self._read(key.data)

    def _open(self, stream: _Stream) -> None:
        try:
            sock = _connect(self.engine.endpoint)
            sock.sendall(stream.request(self.engine.api_version or MIN_API_VERSION))
            sock.setblocking(False)
        except OSError as exc:
            log.warning("log of container %s: cannot reach the engine: %s",
                        stream.container_id[:12], exc)
            stream.end()
            return
        stream.sock = sock
        self._selector.register(sock, selectors.EVENT_READ, stream)

    def _read(self, stream: _Stream) -> None:
        assert stream.sock is not None
        try:
            data = stream.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("log of container %s stopped: %s", stream.container_id[:12], exc)
            data = b""
        try:
            if data:
                stream.feed(data)
                return
        except (OSError, ValueError) as exc:
            log.warning("log of container %s stopped: %s", stream.container_id[:12], exc)
        self._finish(stream)

    def _finish(self, stream: _Stream) -> None:
        if stream.done.is_set():
            return
        if stream.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(stream.sock)
        stream.end()
