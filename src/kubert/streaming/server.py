"""The streaming server: hands out single-use URLs for Exec, Attach and PortForward and serves
them over WebSocket (channel.k8s.io family) and SPDY/3.1 upgrades, as the kubelet's does.

One thread accepts; each connection gets a thread that reads the HTTP request, consumes the
token, upgrades, and runs the session with the runtime backend's stream. The upgrades are
:mod:`kubert.streaming.upgrade` (imported with the first connection), the sessions
:mod:`kubert.streaming.remotecommand` and :mod:`kubert.streaming.portforward`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from kubert.backends import RuntimeBackend
from kubert.config import ServeConfig
from kubert.errors import FailedPreconditionError, InvalidArgumentError
from kubert.model import AttachRequest, ExecRequest, PortForwardRequest
from kubert.model.enums import ContainerState, PodSandboxState
from kubert.streaming.checks import (
    Refusal,
    StreamRequest,
    check_port,
    check_streams,
    refusal_response,
)
from kubert.streaming.netio import shutdown_quietly
from kubert.streaming.settings import StreamingConfig
from kubert.streaming.tokens import TokenCache

__all__ = ["StreamingServer", "start_streaming"]

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
HEAD_TIMEOUT = 10.0


class StreamingServer:
    """The kubelet-style streaming server of one ``kubert serve``.

    :param runtime: the backend whose ``exec_stream`` / ``attach_stream`` /
        ``port_forward_stream`` serve the sessions.
    :param clock: monotonic seconds for token expiry (tests pass their own).
    """

    def __init__(
        self,
        runtime: RuntimeBackend,
        config: StreamingConfig | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = config or StreamingConfig()
        cache_args: dict[str, Any] = {} if clock is None else {"clock": clock}
        self._tokens: TokenCache[StreamRequest] = TokenCache(
            self.config.token_ttl, self.config.max_pending, **cache_args
        )
        self._sessions = threading.BoundedSemaphore(self.config.max_sessions)
        self._listener: socket.socket | None = None
        self._tls: ssl.SSLContext | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._active = 0
        self._base_url = ""
        self._thread: threading.Thread | None = None

    # ---- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Bind and start serving. :raises OSError: the address cannot be bound."""
        cfg = self.config
        if cfg.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
            # No TLS 1.3 session tickets: they arrive after the handshake, while a client with
            # a reader thread (Python's websockets, for one) may be writing its upgrade request
            # on the same TLS connection, and OpenSSL does not allow a read and a write on one
            # connection at once. A streaming URL is used once, so resumption buys nothing.
            ctx.num_tickets = 0
            self._tls = ctx
        family = socket.AF_INET6 if ":" in cfg.address else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((cfg.address, cfg.port))
        listener.listen(128)
        self._listener = listener
        self._base_url = cfg.base_url.rstrip("/") or self._default_base_url(listener)
        self._thread = threading.Thread(target=self._accept_loop, name="streaming", daemon=True)
        self._thread.start()
        log.info("streaming server listening on %s", self._base_url)

    def _default_base_url(self, listener: socket.socket) -> str:
        host, port = listener.getsockname()[:2]
        if ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1" if listener.family == socket.AF_INET else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def stop(self) -> None:
        """Stop listening and cut every open session."""
        if self._listener is not None:
            shutdown_quietly(self._listener)
            self._listener.close()
            self._listener = None
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            shutdown_quietly(conn)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def base_url(self) -> str:
        """``http(s)://host:port`` of the running server."""
        return self._base_url

    @property
    def active_sessions(self) -> int:
        return self._active

    # ---- the RPC side ------------------------------------------------------------------

    def get_exec(self, request: ExecRequest) -> str:
        """The URL a client uses to run ``request`` (the Exec RPC's answer).

        :raises InvalidArgumentError: no command, no stream asked for, or TTY with stderr.
        :raises NotFoundError: no such container. :raises FailedPreconditionError: not running.
        :raises ResourceExhaustedError: too many URLs pending.
        """
        if not request.cmd:
            raise InvalidArgumentError("cmd", list(request.cmd), "must name a command")
        check_streams(request)
        self._require_running(request.container_id)
        return self._url("exec", request)

    def get_attach(self, request: AttachRequest) -> str:
        """The URL a client uses to attach (the Attach RPC's answer); raises as :meth:`get_exec`."""
        check_streams(request)
        self._require_running(request.container_id)
        return self._url("attach", request)

    def get_port_forward(self, request: PortForwardRequest) -> str:
        """The URL a client uses to forward ports (the PortForward RPC's answer).

        :raises InvalidArgumentError: a port outside 1..65535.
        :raises NotFoundError: no such sandbox. :raises FailedPreconditionError: not ready.
        """
        for port in request.port:
            check_port("port", port)
        status = self.runtime.sandbox_status(request.pod_sandbox_id)
        if status.state != PodSandboxState.SANDBOX_READY:
            raise FailedPreconditionError(
                f"pod sandbox {request.pod_sandbox_id!r} is not ready; cannot forward ports"
            )
        return self._url("portforward", request)

    def _require_running(self, container_id: str) -> None:
        status = self.runtime.container_status(container_id)
        if status.state != ContainerState.CONTAINER_RUNNING:
            raise FailedPreconditionError(
                f"container {container_id!r} is not running (state {status.state.name})"
            )

    def _url(self, kind: str, request: StreamRequest) -> str:
        if self._listener is None:
            raise FailedPreconditionError("the streaming server is not running")
        return f"{self._base_url}/{kind}/{self._tokens.insert(request)}"

    # ---- connections -------------------------------------------------------------------

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None and self._listener is listener:
            try:
                conn, _ = listener.accept()
            except OSError:
                break
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # The protocol code loads with the first connection, not with the server: an idle
        # kubert serve holds none of it (h11, websockets, SPDY and the session handlers).
        from kubert.streaming import upgrade

        with self._conns_lock:
            self._conns.add(conn)
        try:
            conn.settimeout(HEAD_TIMEOUT)
            if self._tls is not None:
                raw, conn = conn, self._tls.wrap_socket(conn, server_side=True)
                with self._conns_lock:
                    self._conns.discard(raw)
                    self._conns.add(conn)
            head, rest = _read_head(conn)
            conn.settimeout(None)
            self._dispatch(conn, head, rest)
        except Refusal as refusal:
            log.info("streaming request refused: %s %s", refusal.code, refusal.message)
            with contextlib.suppress(OSError):
                conn.sendall(refusal_response(refusal.code, refusal.message))
        except (OSError, upgrade.ProtocolError, ssl.SSLError) as exc:
            log.debug("streaming connection failed: %s", exc)
        except Exception:  # a bug must not kill the server; log it with its traceback
            log.exception("streaming session crashed")
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            shutdown_quietly(conn)
            conn.close()

    def _dispatch(self, conn: socket.socket, head: bytes, rest: bytes) -> None:
        from kubert.streaming import upgrade  # loaded by _serve already

        method, target, headers = upgrade.parse_request(head)
        parts = target.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("exec", "attach", "portforward"):
            raise Refusal(404, f"no such streaming endpoint: {target.path}")
        if method not in ("GET", "POST"):
            raise Refusal(405, f"method {method} not allowed")
        wanted = ",".join(headers.get("upgrade", [])).lower()
        if "websocket" not in wanted and "spdy/3.1" not in wanted:
            raise Refusal(400, "a streaming request must upgrade to websocket or SPDY/3.1")
        if not self._sessions.acquire(blocking=False):
            raise Refusal(429, "too many streaming sessions in flight")
        try:
            request = self._tokens.consume(parts[1])
            kind = parts[0]
            expected = {"exec": ExecRequest, "attach": AttachRequest,
                        "portforward": PortForwardRequest}[kind]
            if request is None or not isinstance(request, expected):
                raise Refusal(404, "unknown, used or expired token")
            with self._conns_lock:
                self._active += 1
            try:
                if "websocket" in wanted:
                    upgrade.serve_websocket(self.runtime, self.config, conn, head, rest, request,
                                            parse_qs(target.query))
                else:
                    upgrade.serve_spdy(self.runtime, self.config, conn, rest, request, headers)
            finally:
                with self._conns_lock:
                    self._active -= 1
        finally:
            self._sessions.release()


def start_streaming(runtime: RuntimeBackend, config: ServeConfig) -> StreamingServer:
    """The running streaming server of ``kubert serve``, set up from its configuration.

    :raises InvalidArgumentError: a bad streaming setting. :raises OSError: cannot bind.
    """
    server = StreamingServer(runtime, StreamingConfig(
        address=config.streaming_address,
        port=config.streaming_port,
        tls_cert_file=config.streaming_tls_cert_file,
        tls_key_file=config.streaming_tls_key_file,
        base_url=config.streaming_base_url,
        idle_timeout=config.streaming_idle_timeout,
    ))
    server.start()
    return server


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            raise Refusal(400, "request head too large")
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("client closed before sending a request")
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    return buf[:end], buf[end:]
