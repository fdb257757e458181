"""Runtime operation metrics under the kubelet's names, recorded by wrapping every CRI call.

The kubelet measures its CRI calls as ``kubelet_runtime_operations_total``,
``kubelet_runtime_operations_errors_total`` and ``kubelet_runtime_operations_duration_seconds``,
labelled by ``operation_type`` (``run_podsandbox``, ``list_containers``, ...). kubert records
the same series on the server side, so dashboards built for the kubelet read them unchanged;
``kubert_fsyncs_total``, ``kubert_atomic_writes_total``, ``kubert_checkpoint_writes_total`` and
``kubert_checkpoint_deletes_total`` (:data:`kubert.fileutil.DURABILITY`) say what crash safety
costs.

Calls are recorded into plain counters here; ``prometheus_client`` is imported only when the
registry is asked for (:data:`REGISTRY`, :func:`serve_metrics`), so that a server without
``--metrics-address`` does not carry it (about 3.5 MB of RSS).
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from kubert.fileutil import DURABILITY
from kubert.hookspecs import hookimpl

#: The kubelet's buckets: exponential from 5 ms, factor 2, fifteen of them.
BUCKETS = tuple(0.005 * 2**i for i in range(15))

_WORD = re.compile(r"(?<!^)(?=[A-Z])")


class _Operations:
    """Calls, errors and a duration histogram per operation type."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        #: label -> (count per bucket, +Inf last; sum of seconds)
        self.durations: dict[str, tuple[list[int], list[float]]] = {}

    def called(self, label: str) -> None:
        with self.lock:
            self.calls[label] = self.calls.get(label, 0) + 1

    def failed(self, label: str) -> None:
        with self.lock:
            self.errors[label] = self.errors.get(label, 0) + 1

    def took(self, label: str, seconds: float) -> None:
        with self.lock:
            counts, total = self.durations.setdefault(label, ([0] * (len(BUCKETS) + 1), [0.0]))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            total[0] += seconds


OPERATIONS = _Operations()


def _collect() -> Iterator[Any]:
    """The metric families of :data:`OPERATIONS` and :data:`~kubert.fileutil.DURABILITY`."""
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
    from prometheus_client.utils import floatToGoString

    with OPERATIONS.lock:
        calls = dict(OPERATIONS.calls)
        errors = dict(OPERATIONS.errors)
        durations = {k: (list(c), t[0]) for k, (c, t) in OPERATIONS.durations.items()}
    for name, help_text, values in (
        ("kubelet_runtime_operations", "Cumulative number of runtime operations by operation "
         "type.", calls),
        ("kubelet_runtime_operations_errors", "Cumulative number of runtime operation errors "
         "by operation type.", errors),
    ):
        family = CounterMetricFamily(name, help_text, labels=["operation_type"])
        for label, value in sorted(values.items()):
            family.add_metric([label], value)
        yield family
    histogram = HistogramMetricFamily(
        "kubelet_runtime_operations_duration_seconds",
        "Duration in seconds of runtime operations. Broken down by operation type.",
        labels=["operation_type"],
    )
    for label, (counts, total) in sorted(durations.items()):
        cumulative, buckets = 0, []
        for bound, count in zip((*map(floatToGoString, BUCKETS), "+Inf"), counts, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        histogram.add_metric([label], buckets, total)
    yield histogram
    for name, value in DURABILITY.snapshot().items():
        family = CounterMetricFamily(f"kubert_{name}", _DURABILITY_HELP[name])
        family.add_metric([], value)
        yield family


_DURABILITY_HELP = {
    "fsyncs": "fsync calls on files and directories (atomic writes, checkpoint deletes).",
    "atomic_writes": "Files replaced atomically (temp file, fsync, rename, dir fsync).",
    "checkpoint_writes": "Sandbox checkpoints written.",
    "checkpoint_deletes": "Sandbox checkpoints deleted.",
}
_REGISTRY: Any = None
_REGISTRY_LOCK = threading.Lock()


def registry() -> Any:
    """The ``prometheus_client.CollectorRegistry`` of these metrics (made on first use)."""
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            from prometheus_client import CollectorRegistry

            class _Collector:
                def collect(self) -> Iterator[Any]:
                    return _collect()

            made = CollectorRegistry(auto_describe=True)
            made.register(_Collector())
            _REGISTRY = made
        return _REGISTRY


def __getattr__(name: str) -> Any:
    # ``from kubert.metrics import REGISTRY`` keeps working; only it imports prometheus_client.
    if name == "REGISTRY":
        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def operation_type(method: str) -> str:
    """The kubelet's label for a CRI method: ``RunPodSandbox`` -> ``run_podsandbox``."""
    return _WORD.sub("_", method.replace("PodSandbox", "Podsandbox")).lower()


@hookimpl(wrapper=True)
def kubert_cri_call(
    method: str, request: Any, call: Callable[[Any], Any]
) -> Generator[None, Any, Any]:
    """Count and time every CRI call; errors are counted, then re-raised unchanged."""
    label = operation_type(method)
    OPERATIONS.called(label)
    started = time.perf_counter()
    try:
        return (yield)
    except Exception:
        OPERATIONS.failed(label)
        raise
    finally:
        OPERATIONS.took(label, time.perf_counter() - started)


def serve_metrics(host: str, port: int) -> None:
    """Expose the registry as Prometheus text on ``http://host:port/metrics`` (a daemon thread)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry())
