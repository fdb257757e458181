"""A counting proxy on an engine socket: every Docker API request that passes, by method and path.

Point a client (kubert, cri-dockerd, the docker SDK) at :attr:`CountingProxy.host` instead of the
engine's own socket, and :meth:`CountingProxy.since` tells exactly which requests it made. Bytes
pass through unchanged in both directions; only the client's side is read as HTTP, so that each
request head is logged once. After a request that upgrades the connection (attach, exec start:
``Connection: Upgrade``) whatever follows is the container's stream, passed through without
parsing; streamed answers (events, logs follow, stats) need no care, since answers are never
parsed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from attrs import frozen

_CHUNK = 65536


@frozen
class EngineRequest:
    """One request head as the client sent it: ``path`` without the API version prefix and
    without the query, which is in ``query``."""

    method: str
    path: str
    query: str
    at_ns: int

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _strip_version(path: str) -> str:
    """``/v1.41/containers/json`` -> ``/containers/json``."""
    if path.startswith("/v"):
        head, sep, rest = path[2:].partition("/")
        if sep and head.replace(".", "").isdigit():
            return "/" + rest
    return path


class _Reader:
    """Buffered reads from the client socket that also forward what they consumed."""

    def __init__(self, source: socket.socket, sink: socket.socket) -> None:
        self.source = source
        self.sink = sink
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.source.recv(_CHUNK)
        if not data:
            return False
        self.buffer += data
        return True

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                return None
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        self.sink.sendall(line + b"\r\n")
        return line

    def forward(self, count: int) -> bool:
        while count > 0:
            if not self.buffer and not self._fill():
                return False
            part, self.buffer = self.buffer[:count], self.buffer[count:]
            self.sink.sendall(part)
            count -= len(part)
        return True

    def rest(self) -> None:
        """Pass everything from here on through unparsed."""
        if self.buffer:
            self.sink.sendall(self.buffer)
            self.buffer = b""
        while True:
            data = self.source.recv(_CHUNK)
            if not data:
                return
            self.sink.sendall(data)


class CountingProxy:
    """Listens on ``socket_path`` and forwards each connection to the engine at ``upstream``.

    :param upstream: the engine's socket path (not a URL).
    :param socket_path: where this proxy listens.
    """

    def __init__(self, upstream: str | Path, socket_path: str | Path) -> None:
        self.upstream = str(upstream)
        self.socket_path = str(socket_path)
        self.host = f"unix://{self.socket_path}"
        self.requests: list[EngineRequest] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()

    # ---- reading the log ---------------------------------------------------------------

    def mark(self) -> int:
        """A position in the log; :meth:`since` of it gives the requests made after."""
        with self._lock:
            return len(self.requests)

    def since(self, mark: int = 0) -> list[EngineRequest]:
        with self._lock:
            return list(self.requests[mark:])

    def settle(self, quiet: float = 0.2, limit: float = 10.0) -> None:
        """Wait until no request arrived for ``quiet`` seconds (at most ``limit``): requests a
        client makes in the background after an answer (a log copier's follow) are in then."""
        deadline = time.monotonic() + limit
        last = self.mark()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.mark()
            if now == last:
                return
            last = now

    # ---- serving -----------------------------------------------------------------------

    def start(self) -> CountingProxy:
        with contextlib.suppress(FileNotFoundError):
            Path(self.socket_path).unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        listener.listen(256)
        self._listener = listener
        threading.Thread(target=self._accept, name="counting-proxy", daemon=True).start()
        return self

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(FileNotFoundError):
            Path(self.socket_path).unlink()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            return
        with self._lock:
            self._conns.update((client, upstream))
        back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
        back.start()
        try:
            self._requests(_Reader(client, upstream))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            back.join()
            with self._lock:
                self._conns.difference_update((client, upstream))
            client.close()
            upstream.close()

    def _requests(self, reader: _Reader) -> None:
        """Log and forward request after request until the client closes or upgrades."""
        while True:
            line = reader.line()
            if line is None:
                return
            if not line:
                continue  # a stray CRLF between requests
            method, _, rest = line.decode("latin-1").partition(" ")
            target = rest.rsplit(" ", 1)[0]
            path, _, query = target.partition("?")
            with self._lock:
                self.requests.append(
                    EngineRequest(method, _strip_version(path), query, time.time_ns())
                )
            headers: dict[str, str] = {}
            while True:
                header = reader.line()
                if header is None:
                    return
                if not header:
                    break
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if "upgrade" in headers.get("connection", "").lower():
                reader.rest()
                return
            if headers.get("transfer-encoding", "").lower() == "chunked":
                if not _forward_chunked(reader):
                    return
            elif not reader.forward(int(headers.get("content-length", "0") or 0)):
                return


def _forward_chunked(reader: _Reader) -> bool:
    while True:
        size_line = reader.line()
        if size_line is None:
            return False
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailers, then the empty line that ends the body.
            while True:
                trailer = reader.line()
                if trailer is None:
                    return False
                if not trailer:
                    return True
        if not reader.forward(size + 2):
            return False


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(_CHUNK)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def counting_proxy(upstream: str | Path, socket_path: str | Path) -> Iterator[CountingProxy]:
    """A started :class:`CountingProxy`, closed on exit."""
    with CountingProxy(upstream, socket_path) as proxy:
        yield proxy
