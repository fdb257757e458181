"""Container and pod stats read from cgroup files and /proc, never from the engine's stats API.

The engine's stats endpoint costs a round trip and a daemon-side sample per container (and
blocks a second for a CPU delta); ListContainerStats over many containers through it is what
loads cri-dockerd's engines. Here a container's cgroup paths are found once from its init
process and read directly; CPU rates come from the previous sample, and writable-layer sizes
are walked at most once per ``layer_ttl`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from attrs import define, field

from kubert import (
    CpuUsage,
    FilesystemIdentifier,
    FilesystemUsage,
    MemoryUsage,
    NetworkInterfaceUsage,
    NetworkUsage,
)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_kv(path: Path) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


@define
class CgroupPaths:
    """Where one process's cgroups live: controller -> directory (cgroup v1) or the v2 dir."""

    v2: Path | None = None
    v1: dict[str, Path] = field(factory=dict)

    @classmethod
    def of_pid(cls, pid: int, root: Path = CGROUP_ROOT) -> CgroupPaths | None:
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        unified = (root / "cgroup.controllers").exists()
        paths = cls()
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if unified and controllers == "":
                paths.v2 = root / path.lstrip("/")
            for controller in controllers.split(","):
                if controller:
                    paths.v1[controller] = root / controller / path.lstrip("/")
        return paths

    def parent(self) -> CgroupPaths:
        return CgroupPaths(
            v2=self.v2.parent if self.v2 else None,
            v1={k: v.parent for k, v in self.v1.items()},
        )

    def cpu_ns(self) -> int | None:
        if self.v2 is not None:
            usec = read_kv(self.v2 / "cpu.stat").get("usage_usec")
            return None if usec is None else usec * 1000
        directory = self.v1.get("cpuacct")
        return read_int(directory / "cpuacct.usage") if directory else None

    def memory(self, now: int) -> MemoryUsage | None:
        if self.v2 is not None:
            usage = read_int(self.v2 / "memory.current")
            stat = read_kv(self.v2 / "memory.stat")
            inactive = stat.get("inactive_file", 0)
            rss = stat.get("anon")
            limit_text = ""
            with contextlib.suppress(OSError):
                limit_text = (self.v2 / "memory.max").read_text().strip()
            limit = int(limit_text) if limit_text.isdigit() else None
        else:
            directory = self.v1.get("memory")
            if directory is None:
                return None
            usage = read_int(directory / "memory.usage_in_bytes")
            stat = read_kv(directory / "memory.stat")
            inactive = stat.get("total_inactive_file", 0)
            rss = stat.get("total_rss")
            limit = read_int(directory / "memory.limit_in_bytes")
            if limit is not None and limit >= 1 << 62:
                limit = None
        if usage is None:
            return None
        working_set = max(0, usage - inactive)
        return MemoryUsage(
            timestamp=now,
            working_set_bytes=working_set,
            usage_bytes=usage,
            rss_bytes=rss,
            available_bytes=max(0, limit - working_set) if limit else None,
            page_faults=stat.get("pgfault", stat.get("total_pgfault")),
            major_page_faults=stat.get("pgmajfault", stat.get("total_pgmajfault")),
        )

    def pids(self) -> int | None:
        if self.v2 is not None:
            return read_int(self.v2 / "pids.current")
        directory = self.v1.get("pids")
        return read_int(directory / "pids.current") if directory else None


def network_usage(pid: int, now: int) -> NetworkUsage | None:
    """Interface counters inside the netns of ``pid`` (the pause process)."""
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return None
    interfaces = []
    for line in lines:
        name, _, counters = line.partition(":")
        values = counters.split()
        if len(values) < 16 or name.strip() == "lo":
            continue
        interfaces.append(
            NetworkInterfaceUsage(
                name=name.strip(), rx_bytes=int(values[0]), rx_errors=int(values[2]),
                tx_bytes=int(values[8]), tx_errors=int(values[10]),
            )
        )
    default = next((i for i in interfaces if i.name == "eth0"), None)
    return NetworkUsage(timestamp=now, default_interface=default, interfaces=tuple(interfaces))


def _walk_size(path: str) -> tuple[int, int]:
    """(bytes, inodes) under ``path`` without following links."""
    total = inodes = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            inodes += 1
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += info.st_blocks * 512
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total, inodes


class StatsReader:
    """Per-container sampling state: cgroup paths by pid, the previous CPU sample, layer sizes."""

    def __init__(self, mountpoint: str, layer_ttl: float = 60.0) -> None:
        self.mountpoint = mountpoint
        self.layer_ttl = layer_ttl
        self._paths: dict[tuple[str, int], CgroupPaths | None] = {}
        self._cpu: dict[str, tuple[int, int]] = {}
        self._layers: dict[str, tuple[float, int, int]] = {}
        self._lock = threading.Lock()

    def paths(self, key: str, pid: int) -> CgroupPaths | None:
        if pid <= 0:
            return None
        cached = self._paths.get((key, pid))
        if cached is None:
            cached = CgroupPaths.of_pid(pid)
            if cached is not None:
                self._paths[(key, pid)] = cached
        return cached

    def cpu(self, key: str, paths: CgroupPaths | None, now: int) -> CpuUsage | None:
        if paths is None:
            return None
        total = paths.cpu_ns()
        if total is None:
            return None
        with self._lock:
            previous = self._cpu.get(key)
            self._cpu[key] = (now, total)
        rate = None
        if previous is not None and now > previous[0] and total >= previous[1]:
            rate = (total - previous[1]) * 1_000_000_000 // (now - previous[0])
        return CpuUsage(timestamp=now, usage_core_nano_seconds=total, usage_nano_cores=rate)

    def writable_layer(self, key: str, upper_dir: str, now: int) -> FilesystemUsage:
        fs_id = FilesystemIdentifier(mountpoint=self.mountpoint)
        if not upper_dir:
            return FilesystemUsage(timestamp=now, fs_id=fs_id)
        cached = self._layers.get(key)
        clock = time.monotonic()
        if cached is None or clock - cached[0] > self.layer_ttl:
            used, inodes = _walk_size(upper_dir)
            cached = (clock, used, inodes)
            self._layers[key] = cached
        return FilesystemUsage(timestamp=now, fs_id=fs_id, used_bytes=cached[1],
                               inodes_used=cached[2])

    def forget(self, key: str) -> None:
        with self._lock:
            self._cpu.pop(key, None)
            self._layers.pop(key, None)
            for cache_key in [k for k in self._paths if k[0] == key]:
                del self._paths[cache_key]
