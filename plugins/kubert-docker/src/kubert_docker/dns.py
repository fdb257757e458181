"""The pod's DNS config: kept in the sandbox's metadata label at create, written as the pod's
resolv.conf (:mod:`kubert_docker.podfiles`), and for a host-network sandbox into the engine's
own copy after start, as dockershim did."""

from __future__ import annotations

import contextlib
from pathlib import Path

from kubert import DNSConfig
from kubert_docker.status import Record

__all__ = ["dns_dict", "pod_resolv_conf", "write_resolv_conf"]


def dns_dict(dns: DNSConfig | None) -> dict[str, list[str]] | None:
    """The pod's DNS config as kept in the sandbox's engine labels."""
    if dns is None:
        return None
    return {"servers": list(dns.servers), "searches": list(dns.searches),
            "options": list(dns.options)}


def pod_resolv_conf(dns: dict[str, list[str]]) -> str:
    """The resolv.conf of a pod DNS config (the order the engine writes)."""
    lines = []
    if dns.get("searches"):
        lines.append("search " + " ".join(dns["searches"]))
    lines += [f"nameserver {s}" for s in dns.get("servers", ())]
    if dns.get("options"):
        lines.append("options " + " ".join(dns["options"]))
    return "\n".join(lines) + "\n"


def write_resolv_conf(started: Record) -> None:
    """Write the remembered DNS config, if any, into the started sandbox's resolv.conf."""
    dns = started.meta.extra.get("dns")
    if dns:
        _write_resolv_conf(started.inspect.get("ResolvConfPath", ""), dns)


def _write_resolv_conf(path: str, dns: dict[str, list[str]]) -> None:
    """Replace a host-network sandbox's resolv.conf with the pod's DNS config (dockershim)."""
    if not path:
        return
    with contextlib.suppress(OSError):
        Path(path).write_text(pod_resolv_conf(dns))
