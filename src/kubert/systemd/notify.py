"""``sd_notify`` without libsystemd: state lines sent as one datagram to ``NOTIFY_SOCKET``.

The socket is a filesystem path or, with a leading ``@``, a name in the abstract namespace.
Without ``NOTIFY_SOCKET`` (not started by systemd with ``Type=notify``) every call is a no-op,
so the serve loop calls the notifier unconditionally. A failed send is logged once and never
stops the server: readiness reporting must not take the CRI down.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


def _address(value: str) -> str | bytes | None:
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock: and other forms are not for a node daemon


class Notifier:
    """Sends ``READY=1``, ``STATUS=…``, ``STOPPING=1`` and the watchdog keep-alive.

    :param environ: where ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` are read
        (``os.environ`` by default). ``NOTIFY_SOCKET`` is removed from ``os.environ`` so that
        children do not report as this service.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.socket_name = env.get("NOTIFY_SOCKET", "")
        self.address = _address(self.socket_name) if self.socket_name else None
        if self.socket_name and self.address is None:
            log.warning("NOTIFY_SOCKET=%s is not a unix socket address; not notifying",
                        self.socket_name)
        self.watchdog_interval = self._watchdog_interval(env)
        self._last_watchdog = 0.0
        self._warned = False
        if environ is None:
            os.environ.pop("NOTIFY_SOCKET", None)

    @staticmethod
    def _watchdog_interval(env: Mapping[str, str]) -> float | None:
        """Half of ``WATCHDOG_USEC`` in seconds, as systemd advises; None when it is off."""
        usec = env.get("WATCHDOG_USEC", "")
        owner = env.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0:
            return None
        if owner and (not owner.isdigit() or int(owner) != os.getpid()):
            return None
        return int(usec) / 2e6

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send ``lines`` (``KEY=value``) as one message; False when not sent."""
        if self.address is None:
            return False
        message = "\n".join(lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except OSError as error:
            if not self._warned:
                log.warning("cannot notify systemd on %s: %s", self.socket_name, error)
                self._warned = True
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *((f"STATUS={status}",) if status else ()))

    def status(self, text: str) -> bool:
        # One line per message: a newline inside the text would start a new assignment.
        return self.send("STATUS=" + " ".join(text.splitlines()))

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *((f"STATUS={status}",) if status else ()))

    def watchdog_due(self, now: float | None = None) -> bool:
        """Send ``WATCHDOG=1`` when half the watchdog interval has passed since the last one.

        :returns: whether one was sent now.
        """
        if self.watchdog_interval is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_watchdog < self.watchdog_interval:
            return False
        self._last_watchdog = now
        return self.send("WATCHDOG=1")
