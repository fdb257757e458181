"""Socket helpers shared by the streaming transports: waiting for input with a deadline
while the socket stays blocking for writers in other threads, and the reader threads' loop."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import time
from collections.abc import Callable, Iterator

__all__ = ["readable", "receive_until_idle", "shutdown_quietly"]


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


def receive_until_idle(
    sock: socket.socket,
    idle_timeout: float,
    last_activity: Callable[[], float],
    closed: Callable[[], bool],
    log: logging.Logger,
    what: str,
) -> Iterator[bytes]:
    """What arrives on ``sock``, chunk by chunk, until ``closed()``; the last chunk is b""
    when the peer hangs up.

    After ``idle_timeout`` seconds with no traffic either way (``last_activity()`` is the
    ``time.monotonic()`` of the latest) the socket is shut down and the chunks end: a
    shutdown also frees a writer stuck on a peer that stopped reading.
    """
    poll = max(0.05, min(1.0, idle_timeout / 4))
    while not closed():
        if not readable(sock, poll):
            if time.monotonic() - last_activity() > idle_timeout:
                log.info("%s idle for %ss; closing", what, idle_timeout)
                shutdown_quietly(sock)
                return
            continue
        data = sock.recv(65536)
        yield data
        if not data:
            return
