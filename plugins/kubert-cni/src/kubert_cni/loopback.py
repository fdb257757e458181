"""Bring up ``lo`` in a pod's netns, as the kubelet does for every CNI pod.

By default kubert sets ``IFF_UP`` on ``lo`` itself (containerd's ``use_internal_loopback``): a
short-lived thread joins the netns, two ioctls read and set the flags. That is what the
``loopback`` plugin does, without starting a Go process for every pod. With
``--no-cni-internal-loopback`` the ``loopback`` plugin runs instead when one is installed,
else ``ip link set lo up`` through ``nsenter``. Loopback is never torn down: it dies with the
netns.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

from kubert import DeadlineExceededError
from kubert_cni.errors import CNIPluginError
from kubert_cni.invoke import Invocation, find_plugin, run_plugin

LOOPBACK_NETWORK = "cni-loopback"
_LOOPBACK_CONFIG = {"cniVersion": "0.3.1", "name": LOOPBACK_NETWORK, "type": "loopback"}

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
# struct ifreq: the interface name, then (in the union) the short flags; 40 bytes on Linux.
_IFREQ_FLAGS = struct.Struct("16sH22x")


def loopback_up(
    netns: str, container_id: str, bin_dirs: Sequence[Path], timeout: float,
    *, internal: bool = True,
) -> None:
    """Set ``lo`` up in ``netns`` (in-process when ``internal``, else by a plugin or ``ip``).

    :raises CNIPluginError: lo could not be brought up (the message says how it failed).
    :raises DeadlineExceededError: it took longer than ``timeout`` seconds.
    """
    if internal:
        _set_up_in_netns(netns, timeout)
        return
    if find_plugin("loopback", bin_dirs) is not None:
        run_plugin(
            "loopback", LOOPBACK_NETWORK,
            Invocation(command="ADD", container_id=container_id, netns=netns, ifname="lo"),
            _LOOPBACK_CONFIG, bin_dirs, timeout,
        )
        return
    nsenter, ip = shutil.which("nsenter"), shutil.which("ip")
    if nsenter is None or ip is None:
        raise CNIPluginError("loopback", "ADD", LOOPBACK_NETWORK, 0,
                             "no loopback plugin in the CNI bin dirs, and no nsenter/ip to "
                             "bring lo up without it")
    try:
        done = subprocess.run(
            [nsenter, f"--net={netns}", ip, "link", "set", "lo", "up"],
            capture_output=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise DeadlineExceededError(f"ip link set lo up in {netns}", timeout) from None
    if done.returncode != 0:
        raise CNIPluginError("loopback", "ADD", LOOPBACK_NETWORK, 0,
                             f"ip link set lo up in {netns} failed",
                             done.stderr.decode(errors="replace").strip())


def _set_up_in_netns(netns: str, timeout: float) -> None:
    """Join ``netns`` on a thread of its own and set ``lo`` up there.

    setns(2) moves only the calling thread, so the thread that joins the pod's netns is one
    made for it and ended right after: no other kubert thread ever runs in a pod's netns.
    """
    failure: list[str] = []

    def run() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            failure.append(f"cannot open netns {netns}: {exc.strerror}")
            return
        try:
            _setns(fd)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                request = _IFREQ_FLAGS.pack(b"lo", 0)
                flags = _IFREQ_FLAGS.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
                if not flags & _IFF_UP:
                    fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ_FLAGS.pack(b"lo", flags | _IFF_UP))
        except OSError as exc:
            failure.append(f"setting lo up in {netns} failed: {exc.strerror or exc}")
        finally:
            os.close(fd)

    thread = threading.Thread(target=run, name="kubert-cni-loopback", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DeadlineExceededError(f"setting lo up in {netns}", timeout)
    if failure:
        raise CNIPluginError("loopback", "ADD", LOOPBACK_NETWORK, 0, failure[0])


def _setns(fd: int) -> None:
    """setns(fd, CLONE_NEWNET): ``os.setns`` on Python 3.12+, libc's before that."""
    if hasattr(os, "setns"):
        os.setns(fd, _CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
