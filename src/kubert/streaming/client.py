"""The client side of the streaming URLs over WebSocket, as ``kubert exec`` and
``kubert port-forward`` use them: remote command on ``v5.channel.k8s.io`` (``v4`` as the
fallback) and port forwarding on ``v4.channel.k8s.io``."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from kubert.errors import KubertError
from kubert.streaming.channels import CLOSE_SIGNAL, decode_message, encode_message
from kubert.streaming.status import EXIT_CODE_CAUSE, NON_ZERO_EXIT_CODE

__all__ = ["RemoteCommand", "StreamingError", "exit_code_of", "forward_connection"]

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CHUNK = 32 * 1024


class StreamingError(KubertError, RuntimeError):
    """The session failed on the server's side (its error channel said why)."""


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):]
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):]
    return url


def _connect(url: str, protocols: list[str], tls: ssl.SSLContext | None) -> ClientConnection:
    kwargs: dict[str, Any] = {"ssl": tls} if url.startswith("https://") else {}
    # Entered by hand: the session outlives this call (the caller closes it), and entering
    # is how every websockets version from 12 on hands out an open connection.
    ws = connect(
        _ws_url(url), subprotocols=[Subprotocol(p) for p in protocols], compression=None,
        proxy=None, max_size=None, ping_interval=None, open_timeout=30, **kwargs,
    ).__enter__()
    assert isinstance(ws, ClientConnection)
    return ws


def exit_code_of(status_bytes: bytes, version: int) -> int:
    """The exit code a remote-command session reported on its error channel.

    :raises StreamingError: the server failed the session for another reason.
    """
    if not status_bytes:
        return 0
    if version < 4:
        raise StreamingError(status_bytes.decode("utf-8", "replace"))
    status = json.loads(status_bytes)
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == NON_ZERO_EXIT_CODE:
        for cause in status.get("details", {}).get("causes", []):
            if cause.get("reason") == EXIT_CODE_CAUSE:
                return int(cause.get("message", "1"))
    raise StreamingError(str(status.get("message", status)))


class RemoteCommand:
    """One exec or attach session on a streaming URL, over WebSocket.

    :param tls: the context for https:// URLs (None: the system's default verification).
    """

    def __init__(self, url: str, tls: ssl.SSLContext | None = None) -> None:
        self._ws = _connect(url, ["v5.channel.k8s.io", "v4.channel.k8s.io"], tls)
        self.protocol = self._ws.subprotocol or ""
        self.version = 5 if self.protocol.startswith("v5.") else 4
        self._send_lock = threading.Lock()

    def _send(self, channel: int, data: bytes) -> None:
        with self._send_lock:
            self._ws.send(encode_message(channel, data, binary=True))

    def write_stdin(self, data: bytes) -> None:
        self._send(STDIN, data)

    def close_stdin(self) -> None:
        """End of input; v5 only (v4 has no way to say it, short of hanging up)."""
        if self.version >= 5:
            self._send(CLOSE_SIGNAL, bytes((STDIN,)))

    def resize(self, width: int, height: int) -> None:
        self._send(RESIZE, json.dumps({"Width": width, "Height": height}).encode())

    def messages(self) -> Iterator[tuple[int, bytes]]:
        """(channel, data) as they arrive, until the server closes the connection."""
        try:
            for message in self._ws:
                yield decode_message(message, binary=True)
        except ConnectionClosed:
            return

    def run(
        self, stdin: BinaryIO | None, stdout: BinaryIO, stderr: BinaryIO,
        read_stdin: Callable[[BinaryIO], bytes] | None = None,
    ) -> int:
        """Copy ``stdin`` in and the output out until the session ends.

        :param read_stdin: how to read a chunk of ``stdin`` (default: ``read1``).
        :returns: the command's exit code. :raises StreamingError: the session failed.
        """
        if stdin is not None:
            reader = read_stdin or (lambda f: f.read1(CHUNK))  # type: ignore[attr-defined]
            threading.Thread(target=self._pump, args=(stdin, reader), daemon=True).start()
        status = b""
        for channel, data in self.messages():
            if channel == STDOUT:
                stdout.write(data)
                stdout.flush()
            elif channel == STDERR:
                stderr.write(data)
                stderr.flush()
            elif channel == ERROR:
                status += data
        self.close()
        return exit_code_of(status, self.version)

    def _pump(self, stdin: BinaryIO, reader: Callable[[BinaryIO], bytes]) -> None:
        try:
            while data := reader(stdin):
                self.write_stdin(data)
            self.close_stdin()
        except (OSError, ConnectionClosed):
            pass

    def close(self) -> None:
        self._ws.close()


def forward_connection(
    url: str, port: int, local: socket.socket, tls: ssl.SSLContext | None = None,
    on_error: Callable[[str], None] = lambda message: None,
) -> None:
    """Relay one accepted local connection to ``port`` of the pod behind ``url`` (a fresh
    PortForward URL for ``port``), until either side hangs up."""
    ws = _connect(url, ["v4.channel.k8s.io"], tls)
    prefixes = {0: False, 1: False}

    def upload() -> None:
        try:
            while data := local.recv(CHUNK):
                ws.send(encode_message(0, data, binary=True))
        except (OSError, ConnectionClosed):
            pass
        # Channel framing v4 cannot half-close: end the whole session.
        with contextlib.suppress(Exception):
            ws.close()

    threading.Thread(target=upload, daemon=True).start()
    try:
        for message in ws:
            channel, data = decode_message(message, binary=True)
            if channel in prefixes and not prefixes[channel]:
                # Every channel opens with the port number, two bytes little-endian.
                prefixes[channel] = True
                data = data[2:]
            if channel == 0 and data:
                local.sendall(data)
            elif channel == 1 and data:
                on_error(data.decode("utf-8", "replace"))
    except (OSError, ConnectionClosed):
        pass
    finally:
        ws.close()
        with contextlib.suppress(OSError):
            local.shutdown(socket.SHUT_RDWR)
        local.close()
