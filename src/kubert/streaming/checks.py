"""What the streaming server checks before it hands out a URL or upgrades a connection (ports,
the streams asked for), and the plain HTTP refusal it answers a bad request with.

Kept apart from the sessions so that the server loads the protocol code (WebSocket, SPDY,
HTTP parsing) only with its first connection.
"""

from __future__ import annotations

from kubert.errors import InvalidArgumentError
from kubert.model import AttachRequest, ExecRequest, PortForwardRequest

__all__ = ["Refusal", "StreamRequest", "check_port", "check_streams", "refusal_response"]

#: What a streaming URL is handed out for.
StreamRequest = ExecRequest | AttachRequest | PortForwardRequest

_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 429: "Too Many Requests"}


class Refusal(Exception):
    """A streaming request answered with the HTTP status ``code`` and ``message``, no upgrade."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_port(field: str, port: int) -> None:
    """:raises InvalidArgumentError: ``port`` (of the request's ``field``) is not 1..65535."""
    if not 1 <= port <= 65535:
        raise InvalidArgumentError(field, port, "must be a TCP port, 1..65535")


def check_streams(request: ExecRequest | AttachRequest) -> None:
    """:raises InvalidArgumentError: TTY with stderr, or none of the three streams asked for."""
    if request.tty and request.stderr:
        # A terminal has one output; the kubelet refuses the same way.
        raise InvalidArgumentError("stderr", True, "tty and stderr cannot both be true")
    if not (request.stdin or request.stdout or request.stderr):
        raise InvalidArgumentError("stdin", False, "one of stdin, stdout or stderr must be set")


def refusal_response(code: int, message: str) -> bytes:
    """The whole HTTP response (status line, headers, text body) refusing with ``code``."""
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}\r\nContent-Type: text/plain; "
        f"charset=utf-8\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
