"""CRI metrics under cAdvisor's names (ListMetricDescriptors, ListPodSandboxMetrics), derived
from a backend's PodSandboxStats so that every backend with stats reports the same series.

The kubelet (PodAndContainerStatsFromCRI) serves these on /metrics/cadvisor in place of its
own cAdvisor, so names, types and units follow cAdvisor. The CRI carries unsigned integers,
so ``container_cpu_usage_seconds_total`` counts whole seconds, as CRI-O reports it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kubert.model import (
    ContainerMetrics,
    ContainerStats,
    CpuUsage,
    MemoryUsage,
    Metric,
    MetricDescriptor,
    MetricType,
    PodSandboxMetrics,
    PodSandboxStats,
)

__all__ = ["METRIC_DESCRIPTORS", "pod_sandbox_metrics"]

#: cAdvisor's labels as the kubelet shows them; ``container`` is "" on pod-level series.
LABEL_KEYS = ("container", "id", "image", "namespace", "pod")
NETWORK_LABEL_KEYS = (*LABEL_KEYS, "interface")

_NANOS = 1_000_000_000

_CPU = "container_cpu_usage_seconds_total"
_MEMORY_USAGE = "container_memory_usage_bytes"
_WORKING_SET = "container_memory_working_set_bytes"
_RSS = "container_memory_rss"
_PROCESSES = "container_processes"
_RX_BYTES = "container_network_receive_bytes_total"
_TX_BYTES = "container_network_transmit_bytes_total"
_RX_ERRORS = "container_network_receive_errors_total"
_TX_ERRORS = "container_network_transmit_errors_total"

_TYPES: dict[str, MetricType] = {
    _CPU: MetricType.COUNTER,
    _MEMORY_USAGE: MetricType.GAUGE,
    _WORKING_SET: MetricType.GAUGE,
    _RSS: MetricType.GAUGE,
    _PROCESSES: MetricType.GAUGE,
    _RX_BYTES: MetricType.COUNTER,
    _TX_BYTES: MetricType.COUNTER,
    _RX_ERRORS: MetricType.COUNTER,
    _TX_ERRORS: MetricType.COUNTER,
}

#: Every series :func:`pod_sandbox_metrics` reports.
METRIC_DESCRIPTORS: tuple[MetricDescriptor, ...] = (
    MetricDescriptor(name=_CPU, help="Cumulative cpu time consumed in seconds.",
                     label_keys=LABEL_KEYS),
    MetricDescriptor(name=_MEMORY_USAGE, label_keys=LABEL_KEYS,
                     help="Current memory usage in bytes, including all memory regardless of "
                          "when it was accessed"),
    MetricDescriptor(name=_WORKING_SET, help="Current working set in bytes.",
                     label_keys=LABEL_KEYS),
    MetricDescriptor(name=_RSS, help="Size of RSS in bytes.", label_keys=LABEL_KEYS),
    MetricDescriptor(name=_PROCESSES, help="Number of processes running inside the container.",
                     label_keys=LABEL_KEYS),
    MetricDescriptor(name=_RX_BYTES, help="Cumulative count of bytes received",
                     label_keys=NETWORK_LABEL_KEYS),
    MetricDescriptor(name=_TX_BYTES, help="Cumulative count of bytes transmitted",
                     label_keys=NETWORK_LABEL_KEYS),
    MetricDescriptor(name=_RX_ERRORS, help="Cumulative count of errors encountered while "
                     "receiving", label_keys=NETWORK_LABEL_KEYS),
    MetricDescriptor(name=_TX_ERRORS, help="Cumulative count of errors encountered while "
                     "transmitting", label_keys=NETWORK_LABEL_KEYS),
)

_Sample = Callable[[str, int | None, tuple[str, ...]], None]


def _collector(now: int, labels: tuple[str, ...]) -> tuple[list[Metric], _Sample]:
    """A list and the function that appends one sample to it (absent values are skipped)."""
    metrics: list[Metric] = []

    def sample(name: str, value: int | None, extra: tuple[str, ...] = ()) -> None:
        if value is not None:
            metrics.append(Metric(name=name, timestamp=now, metric_type=_TYPES[name],
                                  label_values=(*labels, *extra), value=max(0, value)))

    return metrics, sample


def _usage(sample: _Sample, cpu: CpuUsage | None, memory: MemoryUsage | None) -> None:
    if cpu is not None and cpu.usage_core_nano_seconds is not None:
        sample(_CPU, cpu.usage_core_nano_seconds // _NANOS, ())
    if memory is not None:
        sample(_MEMORY_USAGE, memory.usage_bytes, ())
        sample(_WORKING_SET, memory.working_set_bytes, ())
        sample(_RSS, memory.rss_bytes, ())


def _container(
    stats: ContainerStats, pod: tuple[str, str], image: str, now: int
) -> ContainerMetrics:
    attributes = stats.attributes
    labels = (attributes.metadata.name, attributes.id, image, *pod)
    metrics, sample = _collector(now, labels)
    _usage(sample, stats.cpu, stats.memory)
    return ContainerMetrics(container_id=attributes.id, metrics=tuple(metrics))


def pod_sandbox_metrics(
    stats: PodSandboxStats, images: Mapping[str, str], now: int
) -> PodSandboxMetrics:
    """The cAdvisor series of one sandbox's stats, sampled at ``now`` (Unix ns).

    :param images: container ID -> image reference, for the ``image`` label (sandbox ID -> the
        sandbox image); an unknown ID gets "".
    """
    attributes = stats.attributes
    pod = (attributes.metadata.namespace, attributes.metadata.name)
    labels = ("", attributes.id, images.get(attributes.id, ""), *pod)
    metrics, sample = _collector(now, labels)
    linux = stats.linux
    containers: tuple[ContainerMetrics, ...] = ()
    if linux is not None:
        _usage(sample, linux.cpu, linux.memory)
        if linux.process is not None:
            sample(_PROCESSES, linux.process.process_count, ())
        if linux.network is not None:
            for interface in linux.network.interfaces:
                extra = (interface.name,)
                sample(_RX_BYTES, interface.rx_bytes, extra)
                sample(_TX_BYTES, interface.tx_bytes, extra)
                sample(_RX_ERRORS, interface.rx_errors, extra)
                sample(_TX_ERRORS, interface.tx_errors, extra)
        measured = (
            _container(c, pod, images.get(c.attributes.id, ""), now) for c in linux.containers
        )
        # An exited container has no cgroup left to read: no entry rather than an empty one.
        containers = tuple(c for c in measured if c.metrics)
    return PodSandboxMetrics(
        pod_sandbox_id=attributes.id, metrics=tuple(metrics), container_metrics=containers
    )
