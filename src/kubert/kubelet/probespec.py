"""Probe fields of a container (core/v1 Probe and its handlers) and their validation.

A probe has exactly one handler: ``exec`` (run through ExecSync), ``httpGet``, ``tcpSocket`` or
``grpc`` (run by kubert against the pod IP, as the kubelet's prober does). Ports are an integer
or the name of one of the container's ports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from attrs import field, frozen

SCHEMES = ("HTTP", "HTTPS")
#: The probe kinds a container may have, by manifest field.
PROBE_FIELDS = ("livenessProbe", "readinessProbe", "startupProbe")


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


@frozen(kw_only=True)
class ExecAction:
    command: tuple[str, ...] = field(factory=tuple, converter=_tuple)


@frozen(kw_only=True)
class HTTPHeader:
    name: str
    value: str = ""


@frozen(kw_only=True)
class HTTPGetAction:
    port: str
    path: str = "/"
    host: str = ""
    scheme: str = field(default="HTTP", metadata={"choices": SCHEMES})
    http_headers: tuple[HTTPHeader, ...] = field(factory=tuple, converter=_tuple)


@frozen(kw_only=True)
class TCPSocketAction:
    port: str
    host: str = ""


@frozen(kw_only=True)
class GRPCAction:
    port: int
    service: str = ""


@frozen(kw_only=True)
class Probe:
    """A liveness, readiness or startup probe with one handler."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int = 0
    period_seconds: int = 10
    timeout_seconds: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None

    @property
    def handler(self) -> str:
        """``exec``, ``httpGet``, ``tcpSocket`` or ``grpc`` ("" when none is set)."""
        for name, value in (
            ("exec", self.exec),
            ("httpGet", self.http_get),
            ("tcpSocket", self.tcp_socket),
            ("grpc", self.grpc),
        ):
            if value is not None:
                return name
        return ""


def resolve_port(port: str, named: Sequence[tuple[str, int]]) -> int | None:
    """The port number ``port`` means: a number, or the containerPort of a named port."""
    if port.isdigit():
        return int(port)
    for name, number in named:
        if name == port:
            return number
    return None


def validate_probe(
    path: str, kind: str, probe: Probe, named: Sequence[tuple[str, int]]
) -> Iterable[tuple[str, str]]:
    """Problems of one probe (``kind`` is its manifest field), each ``(path, reason)``."""
    handlers = [
        h for h in ("exec", "httpGet", "tcpSocket", "grpc")
        if getattr(probe, {"httpGet": "http_get", "tcpSocket": "tcp_socket"}.get(h, h)) is not None
    ]
    if len(handlers) != 1:
        yield path, f"must set exactly one of exec, httpGet, tcpSocket, grpc (got {handlers})"
    if probe.exec is not None and not probe.exec.command:
        yield f"{path}.exec.command", "required"
    for sub, port in (
        ("httpGet", probe.http_get.port if probe.http_get else None),
        ("tcpSocket", probe.tcp_socket.port if probe.tcp_socket else None),
        ("grpc", str(probe.grpc.port) if probe.grpc else None),
    ):
        if port is None:
            continue
        number = resolve_port(port, named)
        if number is None:
            yield f"{path}.{sub}.port", f"no container port named {port!r}"
        elif not 1 <= number <= 65535:
            yield f"{path}.{sub}.port", f"must be 1-65535 (got {number})"
    if probe.http_get is not None and not probe.http_get.path.startswith("/"):
        yield f"{path}.httpGet.path", f"must start with / (got {probe.http_get.path!r})"
    for knob, yaml_name in (
        ("period_seconds", "periodSeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("success_threshold", "successThreshold"),
        ("failure_threshold", "failureThreshold"),
    ):
        if getattr(probe, knob) < 1:
            yield f"{path}.{yaml_name}", "must be at least 1"
    if probe.initial_delay_seconds < 0:
        yield f"{path}.initialDelaySeconds", "must not be negative"
    if kind != "readinessProbe" and probe.success_threshold != 1:
        yield f"{path}.successThreshold", "must be 1 for liveness and startup probes"
    if kind == "readinessProbe" and probe.termination_grace_period_seconds is not None:
        yield f"{path}.terminationGracePeriodSeconds", "not allowed on a readiness probe"
    grace = probe.termination_grace_period_seconds
    if grace is not None and grace < 1:
        yield f"{path}.terminationGracePeriodSeconds", "must be at least 1"


def probes_of(container: Any) -> tuple[Probe | None, Probe | None, Probe | None]:
    """A container's liveness, readiness and startup probes, in PROBE_FIELDS order."""
    return container.liveness_probe, container.readiness_probe, container.startup_probe
