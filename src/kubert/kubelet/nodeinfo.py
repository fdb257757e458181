"""The node's own IPs, which hostNetwork pods report as their pod IPs (as the kubelet does)."""

from __future__ import annotations

import socket
from functools import cache

#: Documentation addresses (RFC 5737 / 3849): a UDP connect to them picks the source address
#: the node would use, and sends nothing.
_PROBE_TARGETS = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))


@cache
def node_ips() -> tuple[str, ...]:
    """The node's primary IPv4 and IPv6 addresses (those of its default routes), else
    loopback."""
    found: list[str] = []
    for family, target in _PROBE_TARGETS:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))
                address = probe.getsockname()[0]
        except OSError:
            continue
        if address and address not in found:
            found.append(address)
    return tuple(found) or ("127.0.0.1",)
