"""What "privileged" becomes on this host: the engine's own flag, or its parts one by one.

Docker's ``Privileged`` asks runc for every capability the engine knows. Where this host's
capability bounding set lacks one of them (CI runners, nested and VM-isolated nodes; here
CAP_SYS_RESOURCE), runc fails the start with "unable to apply caps: operation not permitted".
containerd grants what its bounding set holds instead, so kubert does the same there: it spells
privileged out as engine options — every capability of the bounding set, seccomp, AppArmor and
no masked or read-only system paths, every host device, sysfs (and with it cgroupfs) writable.

Detected once at start, like the oom_score_adj clamp (:mod:`kubert_docker.oom`), and logged.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from attrs import frozen

log = logging.getLogger(__name__)

MODES = ("auto", "engine", "bounding-set")

#: Capability names by number (linux/capability.h), as the engine spells them.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)

#: /dev entries the engine's own privileged mode leaves out too (per-container or virtual).
_SKIPPED_DEV = frozenset({"pts", "shm", "fd", "mqueue", "console", ".lxc", ".lxd-mounts",
                          ".udev"})


@frozen
class Privileged:
    """How privileged sandboxes and containers are asked of the engine.

    :ivar missing: capability names (``CAP_…``) the host's bounding set lacks; empty means
        the engine's own ``Privileged`` works and is used.
    """

    missing: tuple[str, ...] = ()

    @property
    def native(self) -> bool:
        return not self.missing


def _bounding_set(status: str) -> int | None:
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return None


def detect(mode: str, proc: Path = Path("/proc")) -> Privileged:
    """Which form privileged takes; logs the choice when it is not the engine's own.

    :param mode: ``engine`` (always the engine's ``Privileged``), ``bounding-set`` (always
        spelled out, dropping what the bounding set lacks), or ``auto`` (spelled out only when
        the bounding set lacks a capability the kernel knows).
    :param proc: the procfs to read kubert's own ``self/status`` and the kernel's
        ``sys/kernel/cap_last_cap`` from (the engine shares this host's bounding set).
    """
    if mode == "engine":
        return Privileged()
    try:
        bounding = _bounding_set((proc / "self/status").read_text())
        last = int((proc / "sys/kernel/cap_last_cap").read_text().strip())
    except (OSError, ValueError):
        bounding, last = None, len(CAPABILITIES) - 1
    if bounding is None:
        return Privileged()
    known = min(last, len(CAPABILITIES) - 1)
    missing = tuple(
        f"CAP_{CAPABILITIES[bit]}" for bit in range(known + 1) if not bounding >> bit & 1
    )
    if mode == "auto" and not missing:
        return Privileged()
    log.info(
        "privileged sandboxes and containers get the bounding set's capabilities (without %s), "
        "unconfined seccomp and AppArmor, no masked paths, the host's devices and a writable /sys "
        "instead of the engine's Privileged (privileged-mode=%s)",
        ", ".join(missing) or "nothing", mode,
    )
    # Mode bounding-set on a full host still spells privileged out, with nothing to drop.
    return Privileged(missing=missing or ("",))


def host_devices(dev: Path = Path("/dev")) -> list[dict[str, str]]:
    """Every character and block device under ``dev``, as the engine's ``Devices`` entries."""
    found: list[dict[str, str]] = []
    for root, dirs, files in os.walk(dev):
        dirs[:] = sorted(d for d in dirs if not (root == str(dev) and d in _SKIPPED_DEV))
        for name in sorted(files):
            if root == str(dev) and name in _SKIPPED_DEV:
                continue
            path = os.path.join(root, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                found.append(
                    {"PathOnHost": path, "PathInContainer": path, "CgroupPermissions": "rwm"}
                )
    return found


def host_config(
    privileged: Privileged,
    apparmor: bool,
    binds: list[str],
    devices: list[dict[str, str]],
    sysfs: str = "",
) -> dict[str, Any]:
    """The ``HostConfig`` fields of a privileged sandbox or container.

    :param binds: the request's own binds; the writable /sys bind is added unless one of them
        already targets /sys.
    :param devices: the request's own devices; the host's are added after them.
    :param sysfs: a sysfs mounted from the pod's network namespace (:mod:`kubert_docker.sysfs`)
        to bind at /sys, with the host's cgroup hierarchies over /sys/fs/cgroup; "" binds the
        host's /sys (a host-network pod, or the sandbox's own pause container).
    :returns: ``{"Privileged": True}`` where the engine's own mode works, else the spelled-out
        fields (CapAdd, CapDrop, SecurityOpt, MaskedPaths, ReadonlyPaths, Devices,
        DeviceCgroupRules, Binds).
    """
    if privileged.native:
        return {"Privileged": True}
    security = ["seccomp=unconfined", "label=disable"]
    if apparmor:
        security.append("apparmor=unconfined")
    taken = {d["PathInContainer"] for d in devices}
    own_sys = any(b.split(":")[1].rstrip("/") == "/sys" for b in binds if b.count(":") >= 1)
    return {
        "Privileged": False,
        "CapAdd": ["ALL"],
        "CapDrop": [name for name in privileged.missing if name],
        "SecurityOpt": security,
        # Empty lists, not absent ones: the engine then masks and write-protects nothing
        # (what the docker CLI's "systempaths=unconfined" sends).
        "MaskedPaths": [],
        "ReadonlyPaths": [],
        "Devices": devices + [d for d in host_devices() if d["PathInContainer"] not in taken],
        # Devices made later (mknod, hot-plug) are usable too, as under the engine's own mode.
        "DeviceCgroupRules": ["a *:* rwm"],
        # The engine mounts sysfs and the cgroup hierarchies read-only outside its own mode;
        # a writable sysfs (the pod's own, else the host's) bound in their place fixes both.
        "Binds": binds if own_sys else [*binds, *_sys_binds(sysfs)],
    }


def _sys_binds(sysfs: str) -> list[str]:
    if not sysfs:
        return ["/sys:/sys:rw"]
    return [f"{sysfs}:/sys:rw", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
