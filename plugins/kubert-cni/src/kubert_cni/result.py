"""CNI results: check their shape, convert between spec versions, and read the pod's IPs.

Results of 0.3.0 through 1.1.0 share one shape (interfaces, ips, routes, dns); before 1.0.0
every IP also carries a ``version`` ("4" or "6"), which 1.0.0 dropped.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from typing import Any

from kubert import PodIP, PodSandboxNetworkStatus
from kubert_cni.versions import at_least


class ResultError(ValueError):
    """A result does not have the shape the spec gives it; the message names the field."""


def validate_result(result: Mapping[str, Any]) -> None:
    """Check the parts kubert reads: ``interfaces`` and ``ips`` with CIDR addresses.

    :raises ResultError: naming the field and the bad value.
    """
    interfaces = result.get("interfaces", [])
    if not isinstance(interfaces, list):
        raise ResultError(f"'interfaces' must be a list (got {interfaces!r})")
    ips = result.get("ips", [])
    if not isinstance(ips, list):
        raise ResultError(f"'ips' must be a list (got {ips!r})")
    for index, entry in enumerate(ips):
        if not isinstance(entry, dict):
            raise ResultError(f"ips[{index}] must be an object (got {entry!r})")
        address = entry.get("address")
        try:
            if not isinstance(address, str) or "/" not in address:
                raise ValueError(address)
            ipaddress.ip_interface(address)
        except ValueError:
            raise ResultError(
                f"ips[{index}].address must be an address in CIDR form (got {address!r})"
            ) from None
        iface = entry.get("interface")
        if iface is not None and (
            not isinstance(iface, int) or not 0 <= iface < len(interfaces)
        ):
            raise ResultError(
                f"ips[{index}].interface must index 'interfaces' (got {iface!r}, "
                f"{len(interfaces)} interfaces)"
            )


def convert_result(result: Mapping[str, Any], to_version: str) -> dict[str, Any]:
    """The same result at spec ``to_version`` (what the next plugin's ``prevResult`` must be)."""
    converted = copy.deepcopy(dict(result))
    converted["cniVersion"] = to_version
    for entry in converted.get("ips", []):
        if at_least(to_version, "1.0.0"):
            entry.pop("version", None)
        elif "version" not in entry:
            ip = ipaddress.ip_interface(str(entry["address"]))
            entry["version"] = str(ip.version)
    return converted


def pod_network_status(result: Mapping[str, Any], netns: str) -> PodSandboxNetworkStatus:
    """The pod's IPs: those on an interface inside ``netns`` (or on no interface at all).

    The primary IP is the first IPv4 address, else the first IPv6 address, as the kubelet
    picks it for dual-stack pods; every other address is additional.
    """
    interfaces = result.get("interfaces", [])
    addresses: list[str] = []
    for entry in result.get("ips", []):
        iface = entry.get("interface")
        if iface is not None and 0 <= iface < len(interfaces):
            sandbox = interfaces[iface].get("sandbox", "")
            # A host-side interface (the bridge, the host veth) carries no pod address.
            if not sandbox or (netns and sandbox != netns):
                continue
        address = str(ipaddress.ip_interface(str(entry["address"])).ip)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        return PodSandboxNetworkStatus()
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    primary = v4[0] if v4 else addresses[0]
    return PodSandboxNetworkStatus(
        ip=primary, additional_ips=tuple(PodIP(ip=a) for a in addresses if a != primary)
    )
