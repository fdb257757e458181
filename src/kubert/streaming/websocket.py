"""A server-side WebSocket connection over a blocking socket, on the sans-I/O protocol of the
``websockets`` library: a reader thread hands whole messages to a callback; any thread sends.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from kubert.streaming.netio import receive_until_idle, shutdown_quietly

__all__ = ["WebSocketSession", "handshake"]

log = logging.getLogger(__name__)

MAX_MESSAGE = 4 * 1024 * 1024


def handshake(
    sock: socket.socket, head: bytes, subprotocols: Sequence[str]
) -> tuple[ServerProtocol, str] | None:
    """Answer the WebSocket upgrade whose raw request ``head`` was already read from ``sock``.

    The subprotocol is the first of the client's, in the client's order, that we serve (the
    kubelet's rule); a client offering none gets the legacy unnamed protocol (""). Nothing
    we serve among several offered is refused with 400.

    :returns: the open protocol and the chosen subprotocol, or None once a refusal is sent.
    """
    served = list(subprotocols)

    def select(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        for name in offered:
            if name in served:
                return name
        if offered:
            from websockets.exceptions import NegotiationError

            raise NegotiationError(f"none of the subprotocols {list(offered)} is served")
        return None

    protocol = ServerProtocol(select_subprotocol=select, max_size=MAX_MESSAGE)
    protocol.receive_data(head)
    events = protocol.events_received()
    request = events[0] if events else None
    if not isinstance(request, Request):
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        return None
    response = protocol.accept(request)
    protocol.send_response(response)
    sock.sendall(b"".join(protocol.data_to_send()))
    if response.status_code != 101:
        return None
    return protocol, response.headers.get("Sec-WebSocket-Protocol", "")


class WebSocketSession:
    """An open WebSocket connection.

    :param on_message: called on the reader thread with each whole message (bytes for
        binary, str for text); it may block, which pushes back on the client.
    :param idle_timeout: seconds with no message either way before the connection ends.
    """

    def __init__(
        self,
        sock: socket.socket,
        protocol: ServerProtocol,
        idle_timeout: float,
        on_message: Callable[[bytes | str], None],
        on_end: Callable[[], None],
    ) -> None:
        self._sock = sock
        self._protocol = protocol
        self._idle_timeout = idle_timeout
        self._on_message = on_message
        self._on_end = on_end
        self._lock = threading.Lock()
        self._parts: list[bytes] = []
        self._text = False
        self._last_activity = time.monotonic()
        self.done = threading.Event()
        self.closed = False
        self._reader = threading.Thread(target=self._read_loop, name="ws-reader", daemon=True)

    def start(self, initial: bytes = b"") -> None:
        """Start reading; ``initial`` holds frames the client sent right behind its request."""
        if initial:
            with self._lock:
                self._protocol.receive_data(initial)
                events = self._protocol.events_received()
            for event in events:
                if isinstance(event, Frame):
                    self._frame(event)
        self._reader.start()

    def send(self, message: bytes | str) -> None:
        """Send one message. :raises ConnectionError: the connection has ended."""
        with self._lock:
            if self.closed or self._protocol.state is not State.OPEN:
                raise ConnectionError("WebSocket connection is closed")
            if isinstance(message, str):
                self._protocol.send_text(message.encode())
            else:
                self._protocol.send_binary(message)
            self._flush()
            self._last_activity = time.monotonic()

    def _flush(self) -> None:
        data = b"".join(self._protocol.data_to_send())
        if data:
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self.closed = True
                raise ConnectionError(f"WebSocket connection lost: {exc}") from exc

    def _read_loop(self) -> None:
        chunks = receive_until_idle(
            self._sock, self._idle_timeout, lambda: self._last_activity, lambda: self.closed,
            log, "WebSocket",
        )
        try:
            for data in chunks:
                self._last_activity = time.monotonic()
                with self._lock:
                    if data:
                        self._protocol.receive_data(data)
                    else:
                        self._protocol.receive_eof()
                    events = self._protocol.events_received()
                    self._flush()  # pongs and the reply to a close
                    if self._protocol.close_expected():
                        # The closing handshake is done: the server closes TCP first (RFC 6455).
                        shutdown_quietly(self._sock, socket.SHUT_WR)
                for event in events:
                    if isinstance(event, Frame):
                        self._frame(event)
                if not data or self._protocol.state is State.CLOSED:
                    break
        except (OSError, ConnectionError) as exc:
            log.debug("WebSocket connection ended: %s", exc)
        finally:
            self.closed = True
            self.done.set()
            self._on_end()

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._parts = [bytes(frame.data)]
            self._text = frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self._parts.append(bytes(frame.data))
        else:
            return
        if frame.fin:
            data = b"".join(self._parts)
            self._parts = []
            self._on_message(data.decode("utf-8", "replace") if self._text else data)

    def close(self, code: int = 1000, reason: str = "", linger: float = 2.0) -> None:
        """Start the closing handshake and wait up to ``linger`` s for the client's answer,
        so that everything sent before reaches it; then close the socket."""
        with self._lock:
            if not self.closed and self._protocol.state is State.OPEN:
                self._protocol.send_close(code, reason)
                with contextlib.suppress(ConnectionError):
                    self._flush()
        if self._reader.is_alive():
            self.done.wait(linger)
        self.closed = True
        shutdown_quietly(self._sock)
        self._sock.close()
