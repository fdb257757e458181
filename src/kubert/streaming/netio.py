"""Socket helpers shared by the streaming transports: waiting for input with a deadline
while the socket stays blocking for writers in other threads."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl

__all__ = ["readable", "shutdown_quietly"]


def readable(sock: socket.socket, timeout: float) -> bool:
    """True when a recv on ``sock`` would not block (data, EOF or an error is waiting).

    A socket timeout would also apply to other threads' sendall, so reads wait here instead.
    TLS sockets may hold decrypted bytes that select cannot see.
    """
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    ready, _, _ = select.select([sock], [], [], timeout)
    return bool(ready)


def shutdown_quietly(sock: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    """Shut the socket down, ignoring a peer that is already gone."""
    with contextlib.suppress(OSError):
        sock.shutdown(how)
