"""The pod's DNS config of a host-network sandbox: the engine writes the resolv.conf from the
create body, and for host-network pods kubert rewrites the sandbox's copy after start, as
dockershim did, from the DNS config it kept in the sandbox's metadata label."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kubert import PodSandboxConfig
from kubert_docker import naming
from kubert_docker.status import Record

__all__ = ["remember_for_host_network", "write_resolv_conf"]


def remember_for_host_network(
    config: PodSandboxConfig, body: dict[str, Any], meta: naming.Meta
) -> None:
    """Put a host-network sandbox's DNS config into ``meta`` and the create ``body``'s labels
    (nothing for other sandboxes or without a DNS config)."""
    if config.dns_config is not None and body["HostConfig"]["NetworkMode"] == "host":
        dns = config.dns_config
        meta.extra["dns"] = {"servers": list(dns.servers), "searches": list(dns.searches),
                             "options": list(dns.options)}
        body["Labels"][naming.META_LABEL] = meta.encode()


def write_resolv_conf(started: Record) -> None:
    """Write the remembered DNS config, if any, into the started sandbox's resolv.conf."""
    dns = started.meta.extra.get("dns")
    if dns:
        _write_resolv_conf(started.inspect.get("ResolvConfPath", ""), dns)


def _write_resolv_conf(path: str, dns: dict[str, list[str]]) -> None:
    """Replace a host-network sandbox's resolv.conf with the pod's DNS config (dockershim)."""
    if not path:
        return
    lines = [f"nameserver {s}" for s in dns.get("servers", ())]
    if dns.get("searches"):
        lines.append("search " + " ".join(dns["searches"]))
    if dns.get("options"):
        lines.append("options " + " ".join(dns["options"]))
    with contextlib.suppress(OSError):
        Path(path).write_text("\n".join(lines) + "\n")
