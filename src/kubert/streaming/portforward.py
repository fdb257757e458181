"""One forwarded connection, whatever the transport: bytes both ways between the client's data
stream and a socket the backend connected inside the sandbox, errors on the error stream.

The port-forward protocols' transport side is here too: a WebSocket connection's channel pair
per port, or the data and error stream pairs a SPDY client opens.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

from kubert.backends import RuntimeBackend
from kubert.errors import InvalidArgumentError, KubertError
from kubert.model import PortForwardRequest
from kubert.streaming.channels import ChannelMux
from kubert.streaming.checks import check_port
from kubert.streaming.netio import shutdown_quietly
from kubert.streaming.remotecommand import Duplex
from kubert.streaming.spdy_session import SpdySession, SpdyStream

__all__ = [
    "PORT_FORWARD_SPDY",
    "PORT_FORWARD_WEBSOCKET",
    "PodConnections",
    "forward",
    "spdy_port_forward",
    "websocket_port_forward",
]

log = logging.getLogger(__name__)

CHUNK = 32 * 1024

PORT_FORWARD_SPDY = "portforward.k8s.io"
#: WebSocket port-forward subprotocols: binary framing or not.
PORT_FORWARD_WEBSOCKET = {"v4.channel.k8s.io": True, "v4.base64.channel.k8s.io": False, "": True}


def _client_to_pod(data: Duplex, sock: socket.socket) -> None:
    try:
        while (chunk := data.read()) is not None:
            sock.sendall(chunk)
    except OSError as exc:
        log.debug("port-forward upload stopped: %s", exc)
    finally:
        # The client will send no more: let the pod's server see EOF.
        shutdown_quietly(sock, socket.SHUT_WR)


class PodConnections:
    """The pod-side sockets of one client session, to cut them all when the client goes:
    a pod that keeps its end open must not keep the session's threads alive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._cut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)
            cut = self._cut
        if cut:
            shutdown_quietly(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            socks = list(self._socks)
        for sock in socks:
            shutdown_quietly(sock)


def forward(
    dial: Callable[[int], socket.socket],
    port: int,
    pod: str,
    data: Duplex,
    error: Duplex,
    *,
    wait_upload: bool,
    live: PodConnections,
) -> None:
    """Forward one connection to ``port`` until the pod's side of it ends.

    :param dial: the backend's connect-in-the-sandbox call.
    :param pod: the sandbox ID, for error messages.
    :param wait_upload: keep the pod socket until the client half-closes too (SPDY can say
        so; a WebSocket channel cannot, so there the pod's end ends the connection).
    :param live: the session's pod connections; this one is in it while it lasts.
    """
    try:
        sock = dial(port)
        live.add(sock)
    except (KubertError, OSError) as exc:
        message = f"error forwarding port {port} to pod {pod}, uid : {exc}"
        log.info("%s", message)
        with contextlib.suppress(ConnectionError):
            error.write(message.encode())
        data.close()
        error.close()
        return
    upload = threading.Thread(target=_client_to_pod, args=(data, sock), daemon=True)
    upload.start()
    try:
        while chunk := sock.recv(CHUNK):
            data.write(chunk)
    except OSError as exc:  # ConnectionError from the client side included
        log.debug("port-forward download stopped: %s", exc)
    finally:
        data.close()
        # Clients wait for the error stream to end before they stop sending.
        error.close()
        if wait_upload:
            upload.join()
        live.discard(sock)
        sock.close()


# ---- the transports ------------------------------------------------------------------------


def websocket_port_forward(
    runtime: RuntimeBackend,
    mux: ChannelMux,
    request: PortForwardRequest,
    ports: list[int],
    hung_up: threading.Event,
) -> None:
    """Forward ``ports`` over a WebSocket connection's channels (a data and an error channel
    per port, in order) until every forwarded connection has ended."""
    live = PodConnections()
    threading.Thread(target=_cut_on, args=(hung_up, live), daemon=True).start()
    workers = []
    for i, port in enumerate(ports):
        data, error = mux.channels[2 * i], mux.channels[2 * i + 1]
        # Each channel starts with its port, two bytes little-endian.
        prefix = port.to_bytes(2, "little")
        data.write(prefix)
        error.write(prefix)
        worker = threading.Thread(
            target=forward,
            args=(_dialer(runtime, request), port, request.pod_sandbox_id, data, error),
            kwargs={"wait_upload": False, "live": live},
            daemon=True,
        )
        worker.start()
        workers.append(worker)
    for worker in workers:
        worker.join()


def spdy_port_forward(
    runtime: RuntimeBackend, session: SpdySession, request: PortForwardRequest
) -> None:
    """Forward each data/error stream pair the SPDY client opens, until it opens no more and
    the running ones have ended."""
    pending: dict[str, dict[str, SpdyStream]] = {}
    workers: list[threading.Thread] = []
    live = PodConnections()
    threading.Thread(target=_cut_on, args=(session.done, live), daemon=True).start()
    while (stream := session.accept()) is not None:
        kind = stream.header("streamtype")
        if kind not in ("data", "error"):
            stream.abort()
            continue
        # Old clients send no requestID: pair a data stream with the error stream
        # opened just before it (client stream IDs go up by two).
        request_id = stream.header("requestid") or str(
            stream.id if kind == "error" else stream.id - 2
        )
        pair = pending.setdefault(request_id, {})
        pair[kind] = stream
        if len(pair) < 2:
            continue
        del pending[request_id]
        worker = threading.Thread(
            target=_spdy_forward_pair,
            args=(runtime, request, pair["data"], pair["error"], live),
            daemon=True,
        )
        worker.start()
        workers.append(worker)
    # No new streams (GOAWAY, or the connection ended); running ones finish, and a
    # pod that holds its end open is cut when the connection ends.
    for worker in workers:
        worker.join()


def _spdy_forward_pair(
    runtime: RuntimeBackend,
    request: PortForwardRequest,
    data: SpdyStream,
    error: SpdyStream,
    live: PodConnections,
) -> None:
    raw = data.header("port")
    try:
        port = int(raw)
        check_port("port", port)
        if request.port and port not in request.port:
            raise InvalidArgumentError("port", port, f"not among the ports {request.port} "
                                                     "this URL was issued for")
    except (ValueError, InvalidArgumentError) as exc:
        with contextlib.suppress(ConnectionError):
            error.write(f"invalid port header {raw!r}: {exc}".encode())
        error.close()
        data.close()
        return
    forward(_dialer(runtime, request), port, request.pod_sandbox_id, data, error,
            wait_upload=True, live=live)


def _dialer(runtime: RuntimeBackend, request: PortForwardRequest) -> Callable[[int], socket.socket]:
    return lambda port: runtime.port_forward_stream(request, port)


def _cut_on(hung_up: threading.Event, live: PodConnections) -> None:
    hung_up.wait()
    live.cut()
