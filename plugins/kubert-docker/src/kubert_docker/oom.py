"""oom_score_adj clamping, as containerd's ``restrict_oom_score_adj``: detected once, logged.

runc may only lower a process's oom_score_adj below its own with CAP_SYS_RESOURCE. Where the
engine runs without it (rootless, or a sandbox that drops it) a negative value fails the whole
container start, so kubert raises requested values to the floor the host allows.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

CAP_SYS_RESOURCE = 24


def _has_cap_sys_resource(status: str) -> bool:
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return True


def detect_floor(mode: str, proc: Path = Path("/proc/self")) -> int | None:
    """The lowest oom_score_adj kubert will ask for, or None for no clamping.

    :param mode: ``true`` (always clamp to this process's own value), ``false`` (never), or
        ``auto`` (clamp when this process lacks CAP_SYS_RESOURCE, as the engine then does too).
    """
    if mode == "false":
        return None
    try:
        own = int((proc / "oom_score_adj").read_text().strip())
        status = (proc / "status").read_text()
    except OSError:
        return None
    if mode == "auto" and _has_cap_sys_resource(status):
        return None
    log.info(
        "oom_score_adj values below %d are raised to %d (restrict_oom_score_adj=%s%s)",
        own, own, mode, "; CAP_SYS_RESOURCE is missing" if mode == "auto" else "",
    )
    return own


def clamp(value: int, floor: int | None) -> int:
    if floor is None or value >= floor:
        return value
    log.debug("oom_score_adj %d clamped to %d", value, floor)
    return floor
