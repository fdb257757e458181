"""One forwarded connection, whatever the transport: bytes both ways between the client's data
stream and a socket the backend connected inside the sandbox, errors on the error stream."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable

from kubert.errors import KubertError
from kubert.streaming.netio import shutdown_quietly
from kubert.streaming.remotecommand import Duplex

__all__ = ["PodConnections", "forward"]

log = logging.getLogger(__name__)

CHUNK = 32 * 1024


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
