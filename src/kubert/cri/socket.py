"""The CRI server's unix socket: address parsing, stale-socket handling, mode and group.

A socket file left by a crashed server is replaced only after a connect to it fails; when a
server answers there, kubert refuses to start rather than steal its address. TCP is used only
when the endpoint says ``tcp://`` explicitly; ``fd://`` (or ``fd://NAME``) is a socket that
systemd passes (see :mod:`kubert.cri.activation`).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import socket
import stat
from pathlib import Path

from attrs import frozen

from kubert.errors import FailedPreconditionError, InvalidArgumentError

__all__ = [
    "Endpoint",
    "parse_endpoint",
    "prepare_unix_socket",
    "remove_socket",
    "secure_socket",
    "socket_answers",
]

SOCKET_MODE = 0o660


@frozen
class Endpoint:
    """A parsed ``--container-runtime-endpoint``: a unix socket path, a TCP host:port, or a
    socket passed by systemd (``fd_name`` is the ``FileDescriptorName=``, "" for the first)."""

    scheme: str  # "unix", "tcp" or "fd"
    path: Path | None = None
    hostport: str = ""
    fd_name: str = ""

    @property
    def grpc_target(self) -> str:
        """The address as grpc's ``add_insecure_port`` and ``insecure_channel`` take it."""
        return f"unix://{self.path}" if self.scheme == "unix" else self.hostport

    def __str__(self) -> str:
        if self.scheme == "fd":
            return f"fd://{self.fd_name}"
        return f"unix://{self.path}" if self.scheme == "unix" else f"tcp://{self.hostport}"


def parse_endpoint(address: str, field: str = "container_runtime_endpoint") -> Endpoint:
    """``unix:///run/x.sock``, ``unix:/run/x.sock``, a bare absolute path, ``tcp://h:p``, or
    ``fd://`` / ``fd://NAME`` (a socket systemd passes, by its ``FileDescriptorName=``)."""
    if address.startswith("fd://"):
        name = address.removeprefix("fd://")
        if not all(c.isalnum() or c in "-_.+" for c in name):
            raise InvalidArgumentError(
                field, address, "fd:// takes a socket unit's FileDescriptorName, or nothing"
            )
        return Endpoint("fd", fd_name=name)
    if address.startswith("tcp://"):
        hostport = address.removeprefix("tcp://").rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidArgumentError(field, address, "a TCP endpoint must be tcp://host:port")
        return Endpoint("tcp", hostport=hostport)
    if address.startswith("unix://"):
        path = address.removeprefix("unix://")
    elif address.startswith("unix:"):
        path = address.removeprefix("unix:")
    elif address.startswith("/"):
        path = address
    else:
        raise InvalidArgumentError(
            field, address, "must be unix:///absolute/path.sock (or tcp://host:port, fd://)"
        )
    if not path.startswith("/"):
        raise InvalidArgumentError(field, address, "the socket path must be absolute")
    if len(path.encode()) > 107:
        raise InvalidArgumentError(field, address, "a unix socket path is at most 107 bytes")
    return Endpoint("unix", path=Path(path))


def socket_answers(path: Path, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(timeout)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def prepare_unix_socket(path: Path) -> None:
    """Create the parent directory; clear a stale socket; refuse a live one or a non-socket.

    :raises FailedPreconditionError: another server answers on ``path``, or ``path`` is a
        file that is not a socket.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise FailedPreconditionError(
            f"{path} exists and is not a socket; refusing to replace it (remove it yourself)"
        )
    if socket_answers(path):
        raise FailedPreconditionError(
            f"another server is already listening on {path}; stop it or choose another "
            "--container-runtime-endpoint"
        )
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def secure_socket(path: Path, group: str | int | None) -> int:
    """Set mode 0660 and (optionally) the group of the bound socket; return its inode.

    :raises InvalidArgumentError: ``group`` names no group on this machine.
    """
    gid = -1
    if group not in (None, ""):
        try:
            gid = int(group) if isinstance(group, int) or str(group).isdigit() else grp.getgrnam(
                str(group)
            ).gr_gid
        except KeyError:
            raise InvalidArgumentError("socket_group", group, "no such group") from None
    if gid != -1:
        os.chown(path, -1, gid)
    os.chmod(path, SOCKET_MODE)
    return path.stat().st_ino


def remove_socket(path: Path, inode: int) -> None:
    """Remove the socket file if it is still the one we bound (not a successor's)."""
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except OSError as error:
        if error.errno != errno.ENOENT:
            raise
