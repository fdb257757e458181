"""The sockets systemd passes to a socket-activated service, read as ``sd_listen_fds`` reads them.

systemd (and ``systemd-socket-activate``) sets ``LISTEN_PID`` to the service's pid,
``LISTEN_FDS`` to how many descriptors it passed, starting at 3, and ``LISTEN_FDNAMES`` to their
colon-separated names (``FileDescriptorName=`` of the socket unit). The variables are meant for
this one process: they are removed once read, so that a child (a CNI plugin, a runc hook) never
takes them for its own, and the descriptors are marked close-on-exec for the same reason.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import MutableMapping

from attrs import frozen

from kubert.errors import FailedPreconditionError

__all__ = ["LISTEN_FDS_START", "ListenFd", "listen_fds", "pick"]

#: The first passed descriptor (SD_LISTEN_FDS_START).
LISTEN_FDS_START = 3
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


@frozen
class ListenFd:
    """One passed descriptor and its name (``unknown`` when systemd gave none, as it does)."""

    fd: int
    name: str


def listen_fds(
    environ: MutableMapping[str, str] | None = None, *, unset: bool = True
) -> list[ListenFd]:
    """The descriptors passed to this process; empty when none were (or not to this pid).

    :param environ: the environment to read (``os.environ`` by default).
    :param unset: remove the three variables afterwards, as ``sd_listen_fds(1)`` does.
    :raises FailedPreconditionError: the variables are set for this pid but malformed.
    """
    env = os.environ if environ is None else environ
    try:
        pid_text, count_text = env.get("LISTEN_PID", ""), env.get("LISTEN_FDS", "")
        names_text = env.get("LISTEN_FDNAMES")
    finally:
        if unset:
            for name in _VARIABLES:
                env.pop(name, None)
    if not pid_text or not count_text:
        return []
    if not pid_text.isdigit() or int(pid_text) != os.getpid():
        return []  # meant for another process (a parent that did not clear them)
    if not count_text.isdigit():
        raise FailedPreconditionError(f"LISTEN_FDS={count_text!r} is not a number of descriptors")
    count = int(count_text)
    names = names_text.split(":") if names_text else []
    if names and len(names) != count:
        raise FailedPreconditionError(
            f"LISTEN_FDNAMES={names_text!r} names {len(names)} descriptors but LISTEN_FDS={count}"
        )
    passed = []
    for index in range(count):
        fd = LISTEN_FDS_START + index
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError as error:
            raise FailedPreconditionError(
                f"LISTEN_FDS={count} but descriptor {fd} is not open: {error.strerror}"
            ) from None
        fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)
        passed.append(ListenFd(fd, names[index] if names else "unknown"))
    return passed


def pick(passed: list[ListenFd], name: str = "") -> ListenFd:
    """The descriptor ``fd://NAME`` means: the one named ``name``, or the first for ``fd://``.

    :raises FailedPreconditionError: none was passed, or none has that name; the message names
        the variables so that an operator sees what systemd did not set.
    """
    if not passed:
        raise FailedPreconditionError(
            "--container-runtime-endpoint fd:// needs a socket from systemd, but LISTEN_FDS and "
            "LISTEN_PID do not pass one to this process (start it through kubert.socket, or "
            "systemd-socket-activate; or listen on unix:///path.sock instead)"
        )
    if not name:
        return passed[0]
    for candidate in passed:
        if candidate.name == name:
            return candidate
    known = ", ".join(p.name for p in passed)
    raise FailedPreconditionError(
        f"--container-runtime-endpoint fd://{name}: LISTEN_FDNAMES names no such socket "
        f"(passed: {known})"
    )
