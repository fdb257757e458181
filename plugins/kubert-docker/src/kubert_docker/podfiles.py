"""A pod's ``/etc/resolv.conf`` and ``/etc/hosts``, written by kubert and bind-mounted into its
app containers.

A pause container created with ``NetworkDisabled`` gets its network namespace from runc alone
(loopback up, nothing else), without the engine's network sandbox for ``--network none``: that
sandbox is most of what starting and stopping a pause container costs the engine (measured on
this project's hosts: start 357 -> 148 ms, stop 114 -> 102 ms). Without it the engine writes no
resolv.conf and no hosts file, so kubert writes them as the engine would have: the pod's DNS
config when it has one, else the host's resolv.conf without loopback nameservers (they are not
reachable from the pod's netns), and the engine's default hosts. Files the CRI config mounts
itself (the kubelet's managed /etc/hosts) are left to that mount.

The files are derived data: nothing is lost if a crash or power cut takes them, since
:meth:`PodFiles.ensure` writes missing ones again for every running sandbox after each sync.
"""

from __future__ import annotations

import ipaddress
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kubert import Mount
from kubert_docker.dns import pod_resolv_conf

#: What the engine writes as the hosts file of a container without an address.
DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
#: The engine's fallback when the host names no nameserver a pod can reach.
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
#: systemd-resolved's stub lists 127.0.0.53; this file has the servers behind it.
RESOLVED_UPSTREAM = Path("/run/systemd/resolve/resolv.conf")
FILES = {"resolv.conf": "/etc/resolv.conf", "hosts": "/etc/hosts"}


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _nameserver(line: str) -> str:
    """The address of a ``nameserver`` line, "" for any other line."""
    words = line.split()
    return words[1] if len(words) > 1 and words[0] == "nameserver" else ""


def host_resolv_conf(path: Path = HOST_RESOLV_CONF) -> str:
    """The host's resolv.conf as a pod sees it: loopback nameservers dropped, the engine's
    defaults when none is left."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    servers = [n for n in map(_nameserver, lines) if n]
    if (servers and all(_loopback(n) for n in servers) and path == HOST_RESOLV_CONF
            and RESOLVED_UPSTREAM.exists()):
        return host_resolv_conf(RESOLVED_UPSTREAM)
    kept = [ln for ln in lines if not _loopback(_nameserver(ln))]
    if not any(_nameserver(ln) for ln in kept):
        kept += [f"nameserver {n}" for n in DEFAULT_NAMESERVERS]
    return "\n".join(kept).strip("\n") + "\n"


class PodFiles:
    """The files of each pod under ``root`` (``root/<sandbox id>/resolv.conf``, ``hosts``);
    ``host_resolv`` is the host's resolv.conf."""

    def __init__(self, root: Path, host_resolv: Path = HOST_RESOLV_CONF) -> None:
        self.root = root
        self.host_resolv = host_resolv

    def directory(self, sandbox_id: str) -> Path:
        return self.root / sandbox_id

    def write(self, sandbox_id: str, dns: dict[str, list[str]] | None) -> None:
        """Write the pod's files (before any of its containers is created)."""
        directory = self.directory(sandbox_id)
        directory.mkdir(parents=True, exist_ok=True)
        if dns and not dns.get("servers"):
            # Searches or options alone: the engine keeps the host's nameservers then.
            host = host_resolv_conf(self.host_resolv).splitlines()
            dns = {**dns, "servers": [n for n in map(_nameserver, host) if n]}
        resolv = pod_resolv_conf(dns) if dns else host_resolv_conf(self.host_resolv)
        (directory / "resolv.conf").write_text(resolv)
        (directory / "hosts").write_text(DEFAULT_HOSTS)

    def ensure(self, sandbox_id: str, dns: dict[str, list[str]] | None) -> None:
        """Write the files again when a crash left them missing or empty."""
        directory = self.directory(sandbox_id)
        for name in FILES:
            path = directory / name
            if not path.is_file() or path.stat().st_size == 0:
                self.write(sandbox_id, dns)
                return

    def binds(self, sandbox_id: str, mounts: Sequence[Mount], readonly: bool) -> list[str]:
        """The engine binds of the pod's files into a container whose config mounts
        ``mounts`` (a file it mounts itself stays its own)."""
        taken = {m.container_path.rstrip("/") for m in mounts}
        mode = "ro" if readonly else "rw"
        return [
            f"{self.directory(sandbox_id) / name}:{target}:{mode}"
            for name, target in FILES.items() if target not in taken
        ]

    def remove(self, sandbox_id: str) -> None:
        shutil.rmtree(self.directory(sandbox_id), ignore_errors=True)

    def sweep(self, keep: Iterable[str]) -> None:
        """Remove the files of sandboxes that no longer exist (a crash between a remove and
        this cleanup leaves them)."""
        wanted = set(keep)
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name not in wanted:
                shutil.rmtree(entry, ignore_errors=True)


def network_disabled(inspect: dict[str, Any]) -> bool:
    """Whether a pause container was created without the engine's network sandbox (older
    kubert made them with one, and the engine then provides their files itself)."""
    return bool((inspect.get("Config") or {}).get("NetworkDisabled"))
