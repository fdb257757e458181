"""A writable sysfs of a pod's own network namespace, for privileged containers spelled out.

Where privileged is spelled out (:mod:`kubert_docker.privileged`), the engine's sysfs is
read-only and a bind of the host's /sys would show, and let a container write, the host's
network devices under /sys/class/net. sysfs shows the network namespace of the process that
mounts it, so kubert mounts one from inside the pod's namespace, once per sandbox, under its own
directory, and binds that: the container sees its pod's interfaces, as under the engine's own
mode or containerd. The mount pins the namespace, so it is released when the sandbox is removed,
and what a previous kubert left behind is swept at start.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MNT_DETACH = 2

#: Run in a child interpreter: join the network namespace, then mount sysfs there (a thread of
#: the server itself must not change namespaces).
_MOUNT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
    sys.exit("setns: " + os.strerror(ctypes.get_errno()))
flags = 0x2 | 0x4 | 0x8  # MS_NOSUID | MS_NODEV | MS_NOEXEC
if libc.mount(b"sysfs", sys.argv[2].encode(), b"sysfs", flags, None) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
"""


def _mounted(path: Path) -> bool:
    target = str(path)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    return any(line.split()[4] == target for line in lines if len(line.split()) > 4)


def _unmount(path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    while _mounted(path):
        if libc.umount2(str(path).encode(), MNT_DETACH) != 0:
            log.warning("cannot unmount %s: %s", path, os.strerror(ctypes.get_errno()))
            return


class PodSysfs:
    """The sysfs mounts of sandboxes, under ``directory``/<sandbox ID>."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def mount(self, sandbox_id: str, pid: int) -> str:
        """The sysfs of the network namespace of ``pid`` (the sandbox's pause process),
        mounted now unless it already is; returns its path.

        :raises OSError: the namespace is gone or the mount failed.
        """
        target = self.directory / sandbox_id
        if _mounted(target):
            return str(target)
        target.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", _MOUNT, f"/proc/{pid}/ns/net", str(target)],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if done.returncode != 0:
            raise OSError(f"sysfs of sandbox {sandbox_id}: {done.stderr.strip()}")
        return str(target)

    def release(self, sandbox_id: str) -> None:
        target = self.directory / sandbox_id
        if not target.is_dir():
            # No mount point, no mount: most sandboxes never had a privileged container, and
            # reading the mount table at each of their removals costs more than the rest.
            return
        _unmount(target)
        with contextlib.suppress(OSError):
            target.rmdir()

    def sweep(self, keep: set[str]) -> None:
        """Release every mount but those of the sandboxes ``keep``."""
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.directory):
                if entry.name not in keep:
                    self.release(entry.name)
