"""cAdvisor's container series beyond the core's nine, read from the container's cgroup (v1 or
v2), its processes in /proc and the filesystem holding its writable layer.

The core (``kubert.pod_sandbox_metrics``) turns PodSandboxStats into the usage series; this
module adds the rest of what the kubelet's /metrics/cadvisor shows, under cAdvisor's names,
label keys and types. Values are unsigned integers, as the CRI carries them: second counts are
whole seconds. A series the kernel keeps no counter for (blkio without I/O accounting, a v1
cgroup without swap accounting) is left out rather than reported as 0.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
from attrs import define, field

from kubert import (
    ContainerMetrics,
    Metric,
    MetricDescriptor,
    MetricType,
    PodSandboxMetrics,
    PodSandboxStats,
)
from kubert_docker.stats import CgroupPaths, StatsReader, read_int, read_kv

#: cAdvisor's container labels as the kubelet shows them (the core's order).
LABEL_KEYS = ("container", "id", "image", "namespace", "pod")

_C, _G = MetricType.COUNTER, MetricType.GAUGE
#: USER_HZ: the unit of cpuacct.stat (fixed at 100 by the kernel ABI).
_USER_HZ = 100
_NANOS = 1_000_000_000

#: name -> (type, help, label keys after LABEL_KEYS).
SERIES: dict[str, tuple[MetricType, str, tuple[str, ...]]] = {
    "container_blkio_device_usage_total": (
        _C, "Blkio device bytes usage", ("device", "major", "minor", "operation")),
    "container_cpu_cfs_periods_total": (_C, "Number of elapsed enforcement period intervals.", ()),
    "container_cpu_cfs_throttled_periods_total": (
        _C, "Number of throttled period intervals.", ()),
    "container_cpu_cfs_throttled_seconds_total": (
        _C, "Total time duration the container has been throttled.", ()),
    "container_cpu_system_seconds_total": (_C, "Cumulative system cpu time consumed in seconds.",
                                           ()),
    "container_cpu_user_seconds_total": (_C, "Cumulative user cpu time consumed in seconds.", ()),
    "container_file_descriptors": (
        _G, "Number of open file descriptors for the container.", ()),
    "container_fs_inodes_free": (_G, "Number of available Inodes", ("device",)),
    "container_fs_inodes_total": (_G, "Number of Inodes", ("device",)),
    "container_fs_limit_bytes": (
        _G, "Number of bytes that can be consumed by the container on this filesystem.",
        ("device",)),
    "container_fs_reads_bytes_total": (_C, "Cumulative count of bytes read", ("device",)),
    "container_fs_reads_total": (_C, "Cumulative count of reads completed", ("device",)),
    "container_fs_usage_bytes": (
        _G, "Number of bytes that are consumed by the container on this filesystem.",
        ("device",)),
    "container_fs_writes_bytes_total": (_C, "Cumulative count of bytes written", ("device",)),
    "container_fs_writes_total": (_C, "Cumulative count of writes completed", ("device",)),
    "container_last_seen": (_G, "Last time a container was seen by the exporter", ()),
    "container_memory_cache": (_G, "Number of bytes of page cache memory.", ()),
    "container_memory_failcnt": (_C, "Number of memory usage hits limits", ()),
    "container_memory_failures_total": (
        _C, "Cumulative count of memory allocation failures.", ("failure_type", "scope")),
    "container_memory_kernel_usage": (_G, "Size of kernel memory allocated in bytes.", ()),
    "container_memory_mapped_file": (_G, "Size of memory mapped files in bytes.", ()),
    "container_memory_max_usage_bytes": (_G, "Maximum memory usage recorded in bytes", ()),
    "container_memory_swap": (_G, "Container swap usage in bytes.", ()),
    "container_network_receive_packets_dropped_total": (
        _C, "Cumulative count of packets dropped while receiving", ("interface",)),
    "container_network_receive_packets_total": (
        _C, "Cumulative count of packets received", ("interface",)),
    "container_network_transmit_packets_dropped_total": (
        _C, "Cumulative count of packets dropped while transmitting", ("interface",)),
    "container_network_transmit_packets_total": (
        _C, "Cumulative count of packets transmitted", ("interface",)),
    "container_oom_events_total": (_C, "Count of out of memory events observed for the container",
                                   ()),
    "container_sockets": (_G, "Number of open sockets for the container.", ()),
    "container_spec_cpu_period": (_G, "CPU period of the container.", ()),
    "container_spec_cpu_shares": (_G, "CPU share of the container.", ()),
    "container_spec_memory_limit_bytes": (_G, "Memory limit for the container.", ()),
    "container_spec_memory_swap_limit_bytes": (_G, "Memory swap limit for the container.", ()),
    "container_start_time_seconds": (_G, "Start time of the container since unix epoch in seconds.",
                                     ()),
    "container_threads": (_G, "Number of threads running inside the container", ()),
    "container_threads_max": (
        _G, "Maximum number of threads allowed inside the container, infinity if value is zero",
        ()),
}

DESCRIPTORS: tuple[MetricDescriptor, ...] = tuple(
    MetricDescriptor(name=name, help=help, label_keys=(*LABEL_KEYS, *extra))
    for name, (_, help, extra) in SERIES.items()
)


@define
class Sampler:
    """Collects the samples of one container (or pod) under its base label values."""

    labels: tuple[str, ...]
    now: int
    metrics: list[Metric] = field(factory=list)

    def add(self, name: str, value: int | None, *extra: str) -> None:
        if value is None:
            return
        self.metrics.append(Metric(
            name=name, timestamp=self.now, metric_type=SERIES[name][0],
            label_values=(*self.labels, *extra), value=max(0, int(value)),
        ))


def _text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _limit(text: str) -> int | None:
    """A cgroup limit: "max" and v1's near-2^63 'unlimited' are 0, as cAdvisor shows them."""
    if text == "max":
        return 0
    if not text.lstrip("-").isdigit():
        return None
    value = int(text)
    return 0 if value < 0 or value >= 1 << 62 else value


def _devices() -> dict[str, str]:
    """major:minor -> /dev name of the host's block devices."""
    names: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/sys/dev/block"):
            uevent = _text(Path(entry.path) / "uevent")
            for line in uevent.splitlines():
                if line.startswith("DEVNAME="):
                    names[entry.name] = "/dev/" + line.split("=", 1)[1]
    return names


def _blkio_v1(directory: Path, name: str) -> dict[tuple[str, str], int]:
    """(major:minor, operation) -> value from a v1 blkio ``…_recursive`` file."""
    values: dict[tuple[str, str], int] = {}
    for line in _text(directory / name).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0] and parts[2].isdigit():
            values[(parts[0], parts[1])] = int(parts[2])
    return values


def _io(paths: CgroupPaths) -> dict[str, dict[str, int]]:
    """major:minor -> {rbytes, wbytes, rios, wios} from io.stat (v2) or blkio (v1)."""
    found: dict[str, dict[str, int]] = {}
    if paths.v2 is not None:
        for line in _text(paths.v2 / "io.stat").splitlines():
            device, *pairs = line.split()
            found[device] = {
                k: int(v) for k, _, v in (p.partition("=") for p in pairs) if v.isdigit()
            }
        return found
    directory = paths.v1.get("blkio")
    if directory is None:
        return found
    keys = {("Read", "bytes"): "rbytes", ("Write", "bytes"): "wbytes",
            ("Read", "ios"): "rios", ("Write", "ios"): "wios"}
    for kind, filename in (("bytes", "blkio.throttle.io_service_bytes_recursive"),
                           ("ios", "blkio.throttle.io_serviced_recursive")):
        for (device, op), value in _blkio_v1(directory, filename).items():
            key = keys.get((op, kind))
            if key:
                found.setdefault(device, {})[key] = value
    return found


def _processes(paths: CgroupPaths) -> list[int]:
    directory = paths.v2 if paths.v2 is not None else (
        paths.v1.get("pids") or paths.v1.get("memory") or paths.v1.get("cpu"))
    if directory is None:
        return []
    return [int(p) for p in _text(directory / "cgroup.procs").split() if p.isdigit()]


def _threads(paths: CgroupPaths) -> int | None:
    if paths.v2 is not None:
        text = _text(paths.v2 / "cgroup.threads")
    else:
        directory = paths.v1.get("pids") or paths.v1.get("cpu")
        text = _text(directory / "tasks") if directory else ""
    return len(text.split()) if text else None


def _descriptors(pids: Iterable[int]) -> tuple[int, int]:
    """(open file descriptors, of which sockets) of the processes ``pids``."""
    fds = sockets = 0
    for pid in pids:
        try:
            entries = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        fds += len(entries)
        for entry in entries:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{entry}").startswith("socket:"):
                    sockets += 1
    return fds, sockets


def _cpu(sample: Sampler, paths: CgroupPaths) -> None:
    if paths.v2 is not None:
        stat = read_kv(paths.v2 / "cpu.stat")
        user, system = stat.get("user_usec"), stat.get("system_usec")
        sample.add("container_cpu_user_seconds_total", None if user is None else user // 10**6)
        sample.add("container_cpu_system_seconds_total",
                   None if system is None else system // 10**6)
        throttled = stat.get("throttled_usec")
        throttled_s = None if throttled is None else throttled // 10**6
        max_text = _text(paths.v2 / "cpu.max").split()
        period = int(max_text[1]) if len(max_text) == 2 and max_text[1].isdigit() else None
        weight = read_int(paths.v2 / "cpu.weight")
        # cAdvisor's inverse of the runc shares -> weight conversion.
        shares = None if weight is None else 2 + (weight - 1) * 262142 // 9999
    else:
        ticks = read_kv(paths.v1["cpuacct"] / "cpuacct.stat") if "cpuacct" in paths.v1 else {}
        for key, name in (("user", "container_cpu_user_seconds_total"),
                          ("system", "container_cpu_system_seconds_total")):
            value = ticks.get(key)
            sample.add(name, None if value is None else value // _USER_HZ)
        cpu = paths.v1.get("cpu")
        stat = read_kv(cpu / "cpu.stat") if cpu else {}
        throttled = stat.get("throttled_time")
        throttled_s = None if throttled is None else throttled // _NANOS
        period = read_int(cpu / "cpu.cfs_period_us") if cpu else None
        shares = read_int(cpu / "cpu.shares") if cpu else None
    sample.add("container_cpu_cfs_periods_total", stat.get("nr_periods"))
    sample.add("container_cpu_cfs_throttled_periods_total", stat.get("nr_throttled"))
    sample.add("container_cpu_cfs_throttled_seconds_total", throttled_s)
    sample.add("container_spec_cpu_period", period)
    sample.add("container_spec_cpu_shares", shares)


def _memory(sample: Sampler, paths: CgroupPaths) -> None:
    if paths.v2 is not None:
        directory = paths.v2
        stat = read_kv(directory / "memory.stat")
        events = read_kv(directory / "memory.events")
        sample.add("container_memory_cache", stat.get("file"))
        sample.add("container_memory_mapped_file", stat.get("file_mapped"))
        sample.add("container_memory_kernel_usage", stat.get("kernel"))
        sample.add("container_memory_swap", read_int(directory / "memory.swap.current"))
        sample.add("container_memory_max_usage_bytes", read_int(directory / "memory.peak"))
        sample.add("container_memory_failcnt", events.get("max"))
        sample.add("container_oom_events_total", events.get("oom_kill"))
        sample.add("container_spec_memory_limit_bytes", _limit(_text(directory / "memory.max")))
        sample.add("container_spec_memory_swap_limit_bytes",
                   _limit(_text(directory / "memory.swap.max")))
        scopes = {"container": stat, "hierarchy": stat}
        prefix = ""
    else:
        found = paths.v1.get("memory")
        if found is None:
            return
        directory = found
        stat = read_kv(directory / "memory.stat")
        sample.add("container_memory_cache", stat.get("total_cache"))
        sample.add("container_memory_mapped_file", stat.get("total_mapped_file"))
        sample.add("container_memory_kernel_usage",
                   read_int(directory / "memory.kmem.usage_in_bytes"))
        sample.add("container_memory_swap", stat.get("total_swap"))
        sample.add("container_memory_max_usage_bytes",
                   read_int(directory / "memory.max_usage_in_bytes"))
        sample.add("container_memory_failcnt", read_int(directory / "memory.failcnt"))
        sample.add("container_oom_events_total",
                   read_kv(directory / "memory.oom_control").get("oom_kill"))
        sample.add("container_spec_memory_limit_bytes",
                   _limit(_text(directory / "memory.limit_in_bytes")))
        sample.add("container_spec_memory_swap_limit_bytes",
                   _limit(_text(directory / "memory.memsw.limit_in_bytes")))
        scopes = {"container": stat, "hierarchy": stat}
        prefix = "total_"
    for scope, values in scopes.items():
        key_prefix = prefix if scope == "hierarchy" else ""
        for failure in ("pgfault", "pgmajfault"):
            sample.add("container_memory_failures_total", values.get(key_prefix + failure),
                       failure, scope)


def _io_series(sample: Sampler, paths: CgroupPaths) -> None:
    io = _io(paths)
    names = _devices() if io else {}
    for device, counters in sorted(io.items()):
        major, _, minor = device.partition(":")
        name = names.get(device, device)
        for operation, key in (("Read", "rbytes"), ("Write", "wbytes")):
            sample.add("container_blkio_device_usage_total", counters.get(key),
                       name, major, minor, operation)
        sample.add("container_fs_reads_bytes_total", counters.get("rbytes"), name)
        sample.add("container_fs_writes_bytes_total", counters.get("wbytes"), name)
        sample.add("container_fs_reads_total", counters.get("rios"), name)
        sample.add("container_fs_writes_total", counters.get("wios"), name)


def _filesystem(
    sample: Sampler, mountpoint: str, used_bytes: int | None, inodes_used: int | None
) -> None:
    """Layer usage and the capacity of the filesystem holding it (cAdvisor's ``device`` is the
    filesystem's; kubert names it by the engine's storage directory)."""
    if not mountpoint:
        return
    try:
        fs = os.statvfs(mountpoint)
    except OSError:
        return
    sample.add("container_fs_limit_bytes", fs.f_blocks * fs.f_frsize, mountpoint)
    sample.add("container_fs_inodes_total", fs.f_files, mountpoint)
    sample.add("container_fs_inodes_free", fs.f_ffree, mountpoint)
    sample.add("container_fs_usage_bytes", used_bytes, mountpoint)
    del inodes_used  # cAdvisor has no per-container inode usage series


def container_series(
    sample: Sampler,
    paths: CgroupPaths,
    started_at: int,
    mountpoint: str,
    layer_bytes: int | None,
    layer_inodes: int | None,
) -> None:
    """Every series of one running container into ``sample``.

    :param paths: the container's cgroup directories.
    :param started_at: its start, Unix ns.
    :param mountpoint: the directory of the filesystem holding its writable layer.
    """
    _cpu(sample, paths)
    _memory(sample, paths)
    _io_series(sample, paths)
    _filesystem(sample, mountpoint, layer_bytes, layer_inodes)
    processes = _processes(paths)
    fds, sockets = _descriptors(processes)
    sample.add("container_file_descriptors", fds if processes else None)
    sample.add("container_sockets", sockets if processes else None)
    sample.add("container_threads", _threads(paths))
    directory = paths.v2 if paths.v2 is not None else paths.v1.get("pids")
    sample.add("container_threads_max",
               _limit(_text(directory / "pids.max")) if directory else None)
    sample.add("container_start_time_seconds", started_at // _NANOS if started_at else None)
    sample.add("container_last_seen", sample.now // _NANOS)


#: /proc/net/dev column (after the interface name) of each packet series.
_NET_COLUMNS = {
    "container_network_receive_packets_total": 1,
    "container_network_receive_packets_dropped_total": 3,
    "container_network_transmit_packets_total": 9,
    "container_network_transmit_packets_dropped_total": 11,
}


def network_series(sample: Sampler, pid: int) -> None:
    """Packet counters of the interfaces (but lo) in the network namespace of ``pid``."""
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:
        return
    for line in lines:
        name, _, counters = line.partition(":")
        values = counters.split()
        if len(values) < 16 or name.strip() == "lo":
            continue
        for series, column in _NET_COLUMNS.items():
            sample.add(series, int(values[column]), name.strip())


def with_series(
    base: PodSandboxMetrics,
    stats: PodSandboxStats,
    images: Mapping[str, str],
    processes: Mapping[str, tuple[int, int]],
    reader: StatsReader,
    now: int,
) -> PodSandboxMetrics:
    """``base`` (the core's series of ``stats``) with this module's series added.

    :param images: container ID -> image reference (the sandbox's ID -> the sandbox image).
    :param processes: ID -> (init pid, started_at ns) of the sandbox and its running
        containers; an ID without a live pid gets no cgroup series.
    """
    attributes = stats.attributes
    pod = (attributes.metadata.namespace, attributes.metadata.name)
    pod_sample = Sampler(labels=("", attributes.id, images.get(attributes.id, ""), *pod), now=now)
    sandbox_pid = processes.get(attributes.id, (0, 0))[0]
    if sandbox_pid > 0:
        network_series(pod_sample, sandbox_pid)
    by_id = {c.container_id: c for c in base.container_metrics}
    containers = []
    for container in stats.linux.containers if stats.linux else ():
        cid = container.attributes.id
        pid, started_at = processes.get(cid, (0, 0))
        paths = reader.paths(cid, pid)
        if paths is None:
            continue
        sample = Sampler(labels=(container.attributes.metadata.name, cid, images.get(cid, ""),
                                 *pod), now=now)
        layer = container.writable_layer
        container_series(
            sample, paths, started_at,
            layer.fs_id.mountpoint if layer and layer.fs_id else "",
            layer.used_bytes if layer else None,
            layer.inodes_used if layer else None,
        )
        core = by_id.pop(cid, None)
        containers.append(ContainerMetrics(
            container_id=cid, metrics=(*(core.metrics if core else ()), *sample.metrics)))
    containers.extend(by_id.values())
    return attrs.evolve(base, metrics=(*base.metrics, *pod_sample.metrics),
                        container_metrics=tuple(containers))
