"""The engine's HTTP API for the calls of a pod's life: a small keep-alive client on the
standard library's ``http.client``, over the engine's unix socket (or plain TCP).

Why not the docker SDK here: every SDK call goes through requests and urllib3 (sessions,
adapters, header parsing through the email package, retries), which cost kubert about as much
CPU per pod as all of cri-dockerd; and importing them adds about 8 MB to an idle server. This
client speaks only what the hot path needs, with the SDK's method names and answers (the
engine's JSON, decoded), and raises :class:`EngineHTTPError` for an answer of 400 or more, with
the engine's own message, and :class:`EngineUnreachable` (a :class:`ConnectionError`) or
:class:`EngineTimeout` (a :class:`TimeoutError`) when there is no answer;
:func:`kubert_docker.engine.translate` maps all three to kubert's errors. ExecSync (and so
exec probes) runs here too; the interactive streams (exec and attach with stdin or a TTY),
image pulls and resource updates still go through the SDK
(:meth:`kubert_docker.engine.Engine.sdk`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

__all__ = [
    "EngineAPI",
    "EngineHTTPError",
    "EngineTimeout",
    "EngineUnreachable",
    "EventStream",
    "OutputStream",
    "Pending",
]


class EngineHTTPError(Exception):
    """The engine answered with ``status`` >= 400; ``explanation`` is its own message."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.status = status
        self.explanation = explanation


class EngineUnreachable(ConnectionError):
    """No connection to the engine, or it closed one without answering."""


class EngineTimeout(TimeoutError):
    """The engine did not answer within the call's timeout."""


def engine_address(endpoint: str) -> str | tuple[str, int]:
    """Where ``endpoint`` is: a unix socket's path, or (host, port) of plain HTTP over TCP.

    :param endpoint: ``unix:///path``, ``tcp://host:port`` or ``http://host:port`` (port 2375
        when none is given, as the engine's clients default).
    :raises ValueError: another scheme (TLS and SSH endpoints are not spoken here).
    """
    parts = urlsplit(endpoint)
    if parts.scheme == "unix":
        return parts.path if parts.netloc in ("", "localhost") else parts.netloc + parts.path
    if parts.scheme in ("tcp", "http") and parts.hostname:
        return parts.hostname, parts.port or 2375
    raise ValueError(
        f"engine endpoint {endpoint!r}: kubert speaks to the engine over unix:// or tcp:// "
        "(plain HTTP) only"
    )


def open_engine_socket(address: str | tuple[str, int], timeout: float | None) -> socket.socket:
    """A socket connected to ``address`` (from :func:`engine_address`); :raises OSError:."""
    if not isinstance(address, str):
        return socket.create_connection(address, timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection over a unix socket (``host`` is only the Host header's)."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = open_engine_socket(self.path, self.timeout)


def _connection_factory(endpoint: str) -> Any:
    """A function of a timeout that opens a new connection to ``endpoint``.

    :raises ValueError: ``endpoint`` is not one :func:`engine_address` reads.
    """
    address = engine_address(endpoint)
    if isinstance(address, str):
        return lambda timeout: _UnixConnection(address, timeout)
    # http.client's own connect for TCP: it also turns Nagle off.
    host, port = address
    return lambda timeout: http.client.HTTPConnection(host, port, timeout=timeout)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle pooled connection was closed by the engine: an idle socket that is
    readable has nothing to say but its end of file."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Stream:
    """An answer the engine keeps sending, on a connection of its own (never pooled, no
    timeout); :meth:`close` (from any thread) ends the iteration."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse,
                 sock: socket.socket) -> None:
        self._conn = conn
        self._response = response
        # The socket as it was before the answer: http.client drops its own reference for an
        # answer without a length (an exec's output), and close() must still reach it.
        self._sock = sock

    def close(self) -> None:
        # shutdown, not close: it wakes a thread blocked reading this socket.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()


class EventStream(_Stream):
    """The engine's ``/events`` answer, one decoded event per iteration."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self._lines():
                if line.strip():
                    yield json.loads(line.decode())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineUnreachable(f"the event stream broke: {exc}") from None

    def _lines(self) -> Iterator[bytes]:
        """The answer's lines. The engine sends each event as one HTTP chunk; reading the
        chunks off the socket here costs a third of ``HTTPResponse.readline``'s calls."""
        fp = self._response.fp
        if fp is None:
            return
        if not self._response.chunked:
            yield from iter(fp.readline, b"")
            return
        pending = b""
        while True:
            size_line = fp.readline()
            if not size_line:
                return  # the connection ended (closed by close(), or by the engine)
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                return  # the engine ended the stream
            data = pending + fp.read(size)
            fp.readline()  # the CRLF after the chunk
            *lines, pending = data.split(b"\n")
            yield from lines


class OutputStream(_Stream):
    """An attached exec's output as the engine multiplexes it (each frame an 8-byte header:
    the stream, 1 for stdout or 2 for stderr, three zero bytes, the size), one
    ``(stream, bytes)`` per iteration until the exec ends."""

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        fp = self._response.fp
        if fp is None:
            return
        try:
            while True:
                header = fp.read(8)
                if len(header) < 8:
                    return  # the exec ended and the engine closed the stream
                size = int.from_bytes(header[4:8], "big")
                data = fp.read(size)
                if data:
                    yield header[0], data
                if len(data) < size:
                    return
        except (OSError, ValueError) as exc:
            raise EngineUnreachable(f"the exec's output stream broke: {exc}") from None


class Hijacked(_Stream):
    """An exec's or an attach's connection once the engine took it over (its ``101 UPGRADED``):
    the process's output comes in, its input goes out.

    Output is read through the answer's buffered reader, never the socket under it: the engine
    may send the first output in the same segment as the answer's head, and those bytes are in
    the reader's buffer already (reading the bare socket, as the docker SDK's hijacked socket
    does, loses them: a short exec's whole output at times).
    """

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes, as soon as any are there; ``b""`` at the end of the output."""
        fp = self._response.fp
        return fp.read1(size) if fp is not None else b""

    def read_exactly(self, size: int) -> bytes | None:
        """``size`` bytes, or None when the output ends first."""
        fp = self._response.fp
        data = fp.read(size) if fp is not None else b""
        return data if len(data) == size else None

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_write(self) -> None:
        """End of input: the engine closes the process's stdin."""
        self._sock.shutdown(socket.SHUT_WR)


class Pending:
    """One request sent (or about to be) on a connection of its own; :meth:`finish` reads
    the answer. Made by :meth:`EngineAPI.begin`."""

    def __init__(
        self, api: EngineAPI, method: str, path: str, target: str, body: Any,
        timeout: float | None,
    ) -> None:
        self._api = api
        self._method = method
        self._path = path
        self._target = target
        self._payload, self._headers = _json_body(body)
        self._wait = api.timeout if timeout is None else timeout
        self._conn: http.client.HTTPConnection | None = None
        self._reused = False
        self._sent = 0

    def send(self) -> None:
        """Send the request; a stale pooled connection is replaced once (see :meth:`finish`).

        :raises EngineUnreachable: no connection to send on.
        """
        while True:
            self._sent += 1
            conn, self._reused = self._api._take(self._wait)
            try:
                conn.request(
                    self._method, self._target, body=self._payload, headers=self._headers
                )
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if self._retry(exc):
                    continue
                raise self._unreachable(exc) from None
            self._conn = conn
            return

    def finish(self) -> Any:
        """The answer's JSON (None for an empty answer); the errors of :meth:`EngineAPI.request`."""
        while True:
            conn = self._conn
            assert conn is not None, "send() first"
            try:
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as exc:
                conn.close()
                raise EngineTimeout(
                    f"{self._method} {self._path}: no answer from the engine in {self._wait} s"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if self._retry(exc):
                    self.send()
                    continue
                raise self._unreachable(exc) from None
            if response.will_close:
                conn.close()
            else:
                self._api._give_back(conn)
            return _answer(response.status, data)

    def _retry(self, exc: BaseException) -> bool:
        # One retry, and only on a reused connection that the engine had closed while idle:
        # the request never reached it, so even a POST is safe to send again.
        stale = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
        return self._reused and self._sent == 1 and isinstance(exc, stale)

    def _unreachable(self, exc: BaseException) -> EngineUnreachable:
        return EngineUnreachable(f"cannot reach the engine at {self._api.endpoint}: {exc}")


class _KillPending(Pending):
    """A kill standing for a stop: a container that is not running (it exited on its own
    meanwhile) is stopped, as the engine's stop answers it with 304, not an error."""

    def finish(self) -> Any:
        try:
            return super().finish()
        except EngineHTTPError as error:
            if error.status == 409 and "is not running" in error.explanation:
                return None
            raise


class EngineAPI:
    """The engine's API at ``version`` (``"1.41"``) through a pool of keep-alive connections.

    :param endpoint: the engine's address (see :func:`_connection_factory`).
    :param version: the API version every path is prefixed with.
    :param timeout: seconds one call may take (a stop adds its grace period).
    :param pool_size: idle connections kept for reuse; concurrent calls beyond it open more.
    """

    def __init__(
        self, endpoint: str, version: str, timeout: float | None = 120, pool_size: int = 64
    ) -> None:
        self.endpoint = endpoint
        self.api_version = version
        self.timeout = timeout
        self._open = _connection_factory(endpoint)
        self._pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    # ---- transport ---------------------------------------------------------------------

    def _path(self, path: str, query: dict[str, Any] | None = None) -> str:
        prefix = f"/v{self.api_version}" if self.api_version else ""
        return prefix + path + (f"?{urlencode(query)}" if query else "")

    def _take(self, timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """A connection to send on, and whether it was reused from the pool."""
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not _dropped(conn):
                    if conn.sock is not None:
                        conn.sock.settimeout(timeout)
                    conn.timeout = timeout
                    return conn, True
                conn.close()
        return self._open(timeout), False

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request and return the answer's JSON (None for an empty answer).

        :param path: the path after the version prefix, already quoted.
        :param body: a JSON-serializable body, or None for none.
        :param timeout: seconds for this call; the client's own timeout when None.
        :raises EngineHTTPError: an answer of 400 or more.
        :raises EngineUnreachable: no connection, or it broke before the answer.
        :raises EngineTimeout: no answer in time.
        """
        return self.begin(method, path, query, body, timeout).finish()

    def begin(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Pending:
        """Send a request (as :meth:`request` does) and return at once; the
        :class:`Pending`'s :meth:`~Pending.finish` waits for the answer. Several requests in
        flight from one thread, each on its own connection, need no thread each."""
        return self._begin(Pending, method, path, query, body, timeout)

    def _begin(
        self, kind: type[Pending], method: str, path: str, query: dict[str, Any] | None,
        body: Any, timeout: float | None,
    ) -> Pending:
        pending = kind(self, method, path, self._path(path, query), body, timeout)
        pending.send()
        return pending

    def close(self) -> None:
        """Close the idle connections; calls in flight finish on theirs."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # ---- the calls (the SDK's names and answers) ---------------------------------------

    def ping(self) -> bool:
        self.request("GET", "/_ping")
        return True

    def version(self) -> dict[str, Any]:
        return dict(self.request("GET", "/version"))

    def info(self) -> dict[str, Any]:
        return dict(self.request("GET", "/info"))

    def containers(self, all: bool = False, filters: dict[str, Any] | None = None) -> list[Any]:
        """``GET /containers/json``: the engine's short form of each container."""
        query: dict[str, Any] = {"all": "1" if all else "0"}
        if filters:
            query["filters"] = _filters(filters)
        return list(self.request("GET", "/containers/json", query) or [])

    def inspect_container(self, container: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/containers/{_ident(container)}/json"))

    def create_container_from_config(self, config: dict[str, Any], name: str) -> dict[str, Any]:
        query = {"name": name} if name else None
        return dict(self.request("POST", "/containers/create", query, body=config))

    def start(self, container: str) -> None:
        self.request("POST", f"/containers/{_ident(container)}/start")

    def stop(self, container: str, timeout: int = 10) -> None:
        """Stop with a grace period of ``timeout`` s; the call may take that much longer."""
        self.begin_stop(container, timeout).finish()

    def begin_stop(self, container: str, timeout: int = 10) -> Pending:
        """:meth:`stop`, sent; its :meth:`Pending.finish` waits until the container stopped.

        With no grace period (``timeout`` <= 0) the container is killed at once, as containerd
        does: the engine's own stop would still send the stop signal first and then SIGKILL,
        two runc invocations where one does (its kill, sent with no signal, is SIGKILL and
        answers once the container is no longer running).
        """
        if timeout <= 0:
            return self._begin(
                _KillPending, "POST", f"/containers/{_ident(container)}/kill", None, None, None
            )
        wait = None if self.timeout is None else self.timeout + timeout
        return self.begin("POST", f"/containers/{_ident(container)}/stop", {"t": str(timeout)},
                          timeout=wait)

    def remove_container(self, container: str, v: bool = False, force: bool = False) -> None:
        query = {"v": "1" if v else "0", "force": "1" if force else "0"}
        self.request("DELETE", f"/containers/{_ident(container)}", query)

    def exec_create(
        self, container: str, cmd: list[str], *, stdin: bool = False, stdout: bool = True,
        stderr: bool = True, tty: bool = False,
    ) -> dict[str, Any]:
        """An exec of ``cmd`` in ``container``; by default with stdout and stderr attached, no
        stdin, no TTY (what ExecSync and probes run)."""
        body = {"AttachStdin": stdin, "AttachStdout": stdout, "AttachStderr": stderr,
                "Tty": tty, "Cmd": cmd}
        return dict(self.request("POST", f"/containers/{_ident(container)}/exec", body=body))

    def exec_attach(self, exec_id: str, tty: bool) -> Hijacked:
        """Start an exec made by :meth:`exec_create` on a connection of its own, taken over
        for its input and output (the interactive Exec)."""
        return self._hijack(self._path(f"/exec/{_ident(exec_id)}/start"),
                            {"Detach": False, "Tty": tty})

    def attach(self, container: str, stdin: bool, stdout: bool, stderr: bool) -> Hijacked:
        """Attach to a running container's main process (its output from now on)."""
        query = {"stream": "1", "stdin": "1" if stdin else "0",
                 "stdout": "1" if stdout else "0", "stderr": "1" if stderr else "0"}
        return self._hijack(self._path(f"/containers/{_ident(container)}/attach", query), None)

    def resize(self, kind: str, ident: str, height: int, width: int) -> None:
        """Resize the TTY of an exec (``kind`` ``"exec"``) or a container (``"containers"``)."""
        self.request("POST", f"/{kind}/{_ident(ident)}/resize",
                     {"h": str(height), "w": str(width)})

    def exec_output(self, exec_id: str) -> OutputStream:
        """Start an exec made by :meth:`exec_create` and follow its output (the caller
        enforces its deadline by closing the stream)."""
        return OutputStream(*self._follow(
            "POST", self._path(f"/exec/{_ident(exec_id)}/start"), {"Detach": False, "Tty": False}
        ))

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/exec/{_ident(exec_id)}/json"))

    def inspect_image(self, image: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/images/{_ident(image)}/json"))

    def remove_image(self, image: str, force: bool = False, noprune: bool = False) -> None:
        query = {"force": "1" if force else "0", "noprune": "1" if noprune else "0"}
        self.request("DELETE", f"/images/{_ident(image)}", query)

    def images(self, name: str = "") -> list[Any]:
        """``GET /images/json``, of the images a reference ``name`` matches when given."""
        query = {"filters": _filters({"reference": [name]})} if name else None
        return list(self.request("GET", "/images/json", query) or [])

    def events(self, filters: dict[str, Any] | None = None) -> EventStream:
        """Follow ``/events``."""
        query = {"filters": _filters(filters)} if filters else None
        return EventStream(*self._follow("GET", self._path("/events", query), None))

    def _follow(
        self, method: str, target: str, body: Any
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket]:
        """Send a request whose answer the engine keeps sending, on a new connection of its
        own (never pooled, no timeout), and return it once the answer's head arrived.

        :raises EngineHTTPError: the engine refused it. :raises EngineUnreachable: no answer.
        """
        return self._stream(method, target, body, {})

    def _hijack(self, target: str, body: Any) -> Hijacked:
        """POST ``target`` asking the engine to take the connection over (the docker CLI's
        ``Upgrade: tcp``), as :meth:`_follow` does otherwise."""
        return Hijacked(*self._stream(
            "POST", target, body, {"Connection": "Upgrade", "Upgrade": "tcp"}
        ))

    def _stream(
        self, method: str, target: str, body: Any, extra: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, socket.socket]:
        """The request of :meth:`_follow` and :meth:`_hijack`; the socket is taken before
        the answer (see :class:`_Stream`)."""
        conn = self._open(None)
        payload, headers = _json_body(body)
        try:
            conn.request(method, target, body=payload, headers={**headers, **extra})
            sock = conn.sock
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise EngineUnreachable(f"cannot reach the engine at {self.endpoint}: {exc}") from None
        if response.status >= 400:
            data = response.read()
            conn.close()
            _answer(response.status, data)
        return conn, response, sock


def _json_body(body: Any) -> tuple[bytes | None, dict[str, str]]:
    """A request's body as JSON bytes and the headers saying so; none for ``None``."""
    if body is None:
        return None, {}
    return json.dumps(body).encode(), {"Content-Type": "application/json"}


def _ident(value: str) -> str:
    """An ID or reference as a path segment (``/`` and ``:`` kept, as the engine routes
    ``/images/{name:.*}``); an empty one is refused here, not sent as another path."""
    if not value:
        raise EngineHTTPError(404, "no such object: the ID is empty")
    return quote(value, safe="/:")


def _filters(filters: dict[str, Any]) -> str:
    """The engine's ``filters`` parameter: each value a list of strings."""
    return json.dumps({
        key: [value] if isinstance(value, str) else list(value) for key, value in filters.items()
    })


def _answer(status: int, data: bytes) -> Any:
    if status >= 400:
        try:
            message = str(json.loads(data).get("message", ""))
        except (ValueError, AttributeError):
            message = data.decode("utf-8", "replace").strip()
        raise EngineHTTPError(status, message or http.client.responses.get(status, ""))
    if not data.strip():
        return None
    try:
        # Decoded here: json.loads of bytes sniffs the encoding and decodes with surrogatepass
        # at every answer; the engine speaks UTF-8 (a bad byte is a ValueError, as bad JSON).
        return json.loads(data.decode())
    except ValueError:
        return data.decode("utf-8", "replace")
