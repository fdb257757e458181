"""What a pod hands its CNI plugins: CNI_ARGS as the kubelet builds them, and capability args.

Capability args become a plugin's ``runtimeConfig`` when the plugin declares the capability:
``portMappings`` from the sandbox's host ports, ``bandwidth`` from the
``kubernetes.io/ingress-bandwidth`` / ``egress-bandwidth`` annotations, ``dns`` from the
sandbox's DNS config, and ``ipRanges`` from the node's pod CIDRs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from kubert import DNSConfig, InvalidArgumentError, PodNetwork, Protocol

INGRESS_ANNOTATION = "kubernetes.io/ingress-bandwidth"
EGRESS_ANNOTATION = "kubernetes.io/egress-bandwidth"

# The kubelet's bounds for bandwidth annotations, in bits per second.
_MIN_BANDWIDTH = 1000
_MAX_BANDWIDTH = 10**15
# What the kubelet passes as burst: large enough to mean "no burst limit" to the plugin.
_UNLIMITED_BURST = 2**31 - 1

_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def cni_args(pod: PodNetwork) -> tuple[tuple[str, str], ...]:
    """CNI_ARGS in the kubelet's order; IgnoreUnknown lets plugins skip keys they lack."""
    return (
        ("IgnoreUnknown", "1"),
        ("K8S_POD_NAMESPACE", pod.metadata.namespace),
        ("K8S_POD_NAME", pod.metadata.name),
        ("K8S_POD_INFRA_CONTAINER_ID", pod.sandbox_id),
        ("K8S_POD_UID", pod.metadata.uid),
    )


def capability_args(
    pod: PodNetwork, pod_cidrs: Sequence[str], dns: DNSConfig | None = None
) -> dict[str, Any]:
    """Every capability value this pod has; each plugin gets those it declares.

    :raises InvalidArgumentError: a bandwidth annotation is not a quantity in range.
    """
    caps: dict[str, Any] = {}
    mappings = [
        {
            "hostPort": pm.host_port,
            "containerPort": pm.container_port,
            "protocol": Protocol(pm.protocol).name.lower(),
            "hostIP": pm.host_ip,
        }
        for pm in pod.port_mappings
        if pm.host_port > 0
    ]
    if mappings:
        caps["portMappings"] = mappings
    bandwidth = _bandwidth(pod.annotations)
    if bandwidth:
        caps["bandwidth"] = bandwidth
    if dns is not None and (dns.servers or dns.searches or dns.options):
        caps["dns"] = {
            "servers": list(dns.servers), "searches": list(dns.searches),
            "options": list(dns.options),
        }
    if pod_cidrs:
        caps["ipRanges"] = [[{"subnet": cidr}] for cidr in pod_cidrs]
    return caps


def runtime_config(plugin: Mapping[str, Any], caps: Mapping[str, Any]) -> dict[str, Any]:
    """The ``runtimeConfig`` of one plugin: the capability args it declares as true."""
    declared = plugin.get("capabilities") or {}
    return {name: value for name, value in caps.items() if declared.get(name) is True}


def _bandwidth(annotations: Mapping[str, str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for annotation, direction in ((INGRESS_ANNOTATION, "ingress"), (EGRESS_ANNOTATION, "egress")):
        text = annotations.get(annotation)
        if text is None:
            continue
        rate = parse_bandwidth(annotation, text)
        result[f"{direction}Rate"] = rate
        result[f"{direction}Burst"] = _UNLIMITED_BURST
    return result


def parse_bandwidth(field: str, text: str) -> int:
    """A Kubernetes quantity (``10M``, ``1Gi``, ``500k``) in bits per second, rounded up.

    :raises InvalidArgumentError: not a quantity, or outside 1k ... 1P as the kubelet requires.
    """
    match = _QUANTITY_RE.match(text.strip())
    if not match:
        raise InvalidArgumentError(
            f"annotations[{field!r}]", text, "must be a quantity such as 10M or 1Gi (bits/s)"
        )
    try:
        value = Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        raise InvalidArgumentError(
            f"annotations[{field!r}]", text, "must be a quantity such as 10M or 1Gi (bits/s)"
        ) from None
    bits = int(value.to_integral_value(rounding=ROUND_CEILING))
    if bits < _MIN_BANDWIDTH:
        raise InvalidArgumentError(f"annotations[{field!r}]", text, "is below 1k bits/s")
    if bits > _MAX_BANDWIDTH:
        raise InvalidArgumentError(f"annotations[{field!r}]", text, "is above 1P bits/s")
    return bits
