"""Runtime operation metrics under the kubelet's names, recorded by wrapping every CRI call.

The kubelet measures its CRI calls as ``kubelet_runtime_operations_total``,
``kubelet_runtime_operations_errors_total`` and ``kubelet_runtime_operations_duration_seconds``,
labelled by ``operation_type`` (``run_podsandbox``, ``list_containers``, ...). kubert records
the same series on the server side, so dashboards built for the kubelet read them unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from kubert.fileutil import DURABILITY
from kubert.hookspecs import hookimpl

REGISTRY = CollectorRegistry(auto_describe=True)


class DurabilityCollector(Collector):
    """``kubert_fsyncs_total``, ``kubert_atomic_writes_total``,
    ``kubert_checkpoint_writes_total`` and ``kubert_checkpoint_deletes_total`` from
    :data:`kubert.fileutil.DURABILITY`: what crash safety costs in disk flushes."""

    _HELP = {
        "fsyncs": "fsync calls on files and directories (atomic writes, checkpoint deletes).",
        "atomic_writes": "Files replaced atomically (temp file, fsync, rename, dir fsync).",
        "checkpoint_writes": "Sandbox checkpoints written.",
        "checkpoint_deletes": "Sandbox checkpoints deleted.",
    }

    def collect(self) -> Any:
        for name, value in DURABILITY.snapshot().items():
            family = CounterMetricFamily(f"kubert_{name}", self._HELP[name])
            family.add_metric([], value)
            yield family


REGISTRY.register(DurabilityCollector())

OPERATIONS = Counter(
    "kubelet_runtime_operations_total",
    "Cumulative number of runtime operations by operation type.",
    ["operation_type"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "kubelet_runtime_operations_errors_total",
    "Cumulative number of runtime operation errors by operation type.",
    ["operation_type"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "kubelet_runtime_operations_duration_seconds",
    "Duration in seconds of runtime operations. Broken down by operation type.",
    ["operation_type"],
    # The kubelet's buckets: exponential from 5 ms, factor 2, fifteen of them.
    buckets=[0.005 * 2**i for i in range(15)],
    registry=REGISTRY,
)

_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def operation_type(method: str) -> str:
    """The kubelet's label for a CRI method: ``RunPodSandbox`` -> ``run_podsandbox``."""
    return _WORD.sub("_", method.replace("PodSandbox", "Podsandbox")).lower()


@hookimpl(wrapper=True)
def kubert_cri_call(
    method: str, request: Any, call: Callable[[Any], Any]
) -> Generator[None, Any, Any]:
    """Count and time every CRI call; errors are counted, then re-raised unchanged."""
    label = operation_type(method)
    OPERATIONS.labels(label).inc()
    started = time.perf_counter()
    try:
        return (yield)
    except Exception:
        ERRORS.labels(label).inc()
        raise
    finally:
        DURATION.labels(label).observe(time.perf_counter() - started)


def serve_metrics(host: str, port: int) -> None:
    """Expose the registry as Prometheus text on ``http://host:port/metrics`` (a daemon thread)."""
    start_http_server(port, addr=host, registry=REGISTRY)
