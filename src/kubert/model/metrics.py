"""Metric models of ListMetricDescriptors and ListPodSandboxMetrics (cAdvisor-style series)."""

from __future__ import annotations

from attrs import frozen

from kubert.model.common import tuple_field
from kubert.model.enums import MetricType


@frozen(kw_only=True)
class MetricDescriptor:
    """One series' name, help text and label keys (the order of every Metric.label_values)."""

    name: str
    help: str = ""
    label_keys: tuple[str, ...] = tuple_field()


@frozen(kw_only=True)
class Metric:
    """One sample; ``value`` is an unsigned integer, as the CRI carries it."""

    name: str
    timestamp: int = 0
    metric_type: MetricType = MetricType.COUNTER
    label_values: tuple[str, ...] = tuple_field()
    value: int | None = None


@frozen(kw_only=True)
class ContainerMetrics:
    container_id: str
    metrics: tuple[Metric, ...] = tuple_field()


@frozen(kw_only=True)
class PodSandboxMetrics:
    pod_sandbox_id: str
    metrics: tuple[Metric, ...] = tuple_field()
    container_metrics: tuple[ContainerMetrics, ...] = tuple_field()
