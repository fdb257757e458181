"""The protocol side of one streaming connection: its HTTP request parsed, the upgrade to
WebSocket (channel.k8s.io family) or SPDY/3.1, and the session run over it.

:mod:`kubert.streaming.server` imports this with its first connection: an idle server holds
none of the protocol code (h11, websockets, SPDY framing and the session handlers).
"""

from __future__ import annotations

import logging
import socket
from urllib.parse import SplitResult, urlsplit

import h11

from kubert.backends import RuntimeBackend
from kubert.errors import InvalidArgumentError
from kubert.model import PortForwardRequest
from kubert.streaming.channels import ChannelMux
from kubert.streaming.checks import Refusal, StreamRequest, check_port
from kubert.streaming.portforward import (
    PORT_FORWARD_SPDY,
    PORT_FORWARD_WEBSOCKET,
    spdy_port_forward,
    websocket_port_forward,
)
from kubert.streaming.remotecommand import (
    REMOTE_COMMAND_SPDY,
    REMOTE_COMMAND_WEBSOCKET,
    RESIZE_CHANNEL,
    STDIN_CHANNEL,
    spdy_command,
    websocket_command,
)
from kubert.streaming.settings import StreamingConfig
from kubert.streaming.spdy_session import SpdySession
from kubert.streaming.websocket import WebSocketSession, handshake

__all__ = ["ProtocolError", "parse_request", "serve_spdy", "serve_websocket"]

log = logging.getLogger(__name__)

#: What a request head that is not HTTP/1.1 raises (the connection is dropped, not answered).
ProtocolError = h11.ProtocolError


def parse_request(head: bytes) -> tuple[str, SplitResult, dict[str, list[str]]]:
    """The method, the split target and the headers (lower-case names, every value kept) of
    the HTTP request ``head`` (up to and including its blank line).

    :raises Refusal: not an HTTP request. :raises ProtocolError: malformed HTTP/1.1.
    """
    parser = h11.Connection(h11.SERVER)
    parser.receive_data(head)
    event = parser.next_event()
    if not isinstance(event, h11.Request):
        raise Refusal(400, "malformed HTTP request")
    headers: dict[str, list[str]] = {}
    for name, value in event.headers:
        headers.setdefault(name.decode().lower(), []).append(value.decode("latin-1"))
    return event.method.decode(), urlsplit(event.target.decode("utf-8", "replace")), headers


def serve_websocket(
    runtime: RuntimeBackend,
    config: StreamingConfig,
    conn: socket.socket,
    head: bytes,
    rest: bytes,
    request: StreamRequest,
    query: dict[str, list[str]],
) -> None:
    """Upgrade ``conn`` to a WebSocket and run ``request``'s session over it until it ends.

    :param head: the request head (the handshake reads it); ``rest`` the bytes behind it.
    :param query: the URL's query (``port`` for port-forward).
    :raises Refusal: bad ``port`` values in ``query``.
    """
    if isinstance(request, PortForwardRequest):
        ports = _query_ports(query, request)
        accepted = handshake(conn, head, [p for p in PORT_FORWARD_WEBSOCKET if p])
        if accepted is None:
            return
        protocol, name = accepted
        binary = PORT_FORWARD_WEBSOCKET[name]
        count = 2 * len(ports)
        readable = list(range(0, count, 2))
        version, close_signal = 4, False
    else:
        accepted = handshake(conn, head, [p for p in REMOTE_COMMAND_WEBSOCKET if p])
        if accepted is None:
            return
        protocol, name = accepted
        version, binary, close_signal = REMOTE_COMMAND_WEBSOCKET[name]
        count = 5
        readable = [STDIN_CHANNEL, RESIZE_CHANNEL] if request.stdin else [RESIZE_CHANNEL]
    ws: WebSocketSession
    mux = ChannelMux(lambda m: ws.send(m), count, binary=binary, readable=readable,
                     close_signal=close_signal)
    ws = WebSocketSession(conn, protocol, config.idle_timeout, mux.receive, mux.end)
    ws.start(rest)
    try:
        if isinstance(request, PortForwardRequest):
            websocket_port_forward(runtime, mux, request, ports, ws.done)
        else:
            websocket_command(runtime, mux, request, version, ws.done)
    except ConnectionError as exc:
        log.info("WebSocket client left: %s", exc)
    finally:
        ws.close()


def serve_spdy(
    runtime: RuntimeBackend,
    config: StreamingConfig,
    conn: socket.socket,
    rest: bytes,
    request: StreamRequest,
    headers: dict[str, list[str]],
) -> None:
    """Upgrade ``conn`` to SPDY/3.1 and run ``request``'s session over it until it ends.

    :param rest: the bytes behind the request head; ``headers`` the request's headers.
    :raises Refusal: no protocol version both sides speak (403, as the kubelet answers).
    """
    offered = [
        p.strip()
        for value in headers.get("x-stream-protocol-version", [])
        for p in value.split(",")
    ]
    served = (
        [PORT_FORWARD_SPDY] if isinstance(request, PortForwardRequest)
        else list(REMOTE_COMMAND_SPDY)
    )
    chosen = next((p for p in offered if p in served), None)
    if chosen is None:
        raise Refusal(403, f"unable to upgrade: unable to negotiate protocol: client "
                           f"supports {offered}, server supports {served}")
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        b"X-Stream-Protocol-Version: " + chosen.encode() + b"\r\n\r\n"
    )
    session = SpdySession(conn, config.idle_timeout)
    session.start(rest)
    try:
        if isinstance(request, PortForwardRequest):
            spdy_port_forward(runtime, session, request)
        else:
            spdy_command(runtime, session, request, REMOTE_COMMAND_SPDY[chosen],
                         config.stream_creation_timeout)
    finally:
        session.close()


def _query_ports(query: dict[str, list[str]], request: PortForwardRequest) -> list[int]:
    raw = query.get("port", [])
    if not raw:
        if not request.port:
            raise Refusal(400, "no ports: give ?port= or ask the PortForward RPC for some")
        return list(request.port)
    ports = []
    for value in raw:
        try:
            port = int(value)
            check_port("port", port)
        except (ValueError, InvalidArgumentError):
            raise Refusal(400, f"invalid port {value!r}") from None
        if request.port and port not in request.port:
            raise Refusal(403, f"port {port} is not among {list(request.port)}")
        ports.append(port)
    return ports
