"""Helpers of the CNI tests: a private test network, pods, and looking into netns."""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen

from kubert import BackendContext, PodNetwork, PodSandboxMetadata, PortMapping
from kubert_cni import plugin as cni_plugin
from kubert_cni.backend import CNINetwork
from tests.fixtures.polling import eventually

SYSTEM_BIN_DIR = Path("/usr/lib/cni")


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=30)


@frozen
class PrivateNet:
    """One test's private network: bridge, subnet, dirs."""

    bridge: str
    subnet: str
    gateway: str
    conf_dir: Path
    cache_dir: Path
    ipam_dir: Path
    bin_dir: Path
    root: Path

    def leases(self) -> list[str]:
        """host-local's lease files (one per reserved IP) of every network in the IPAM dir."""
        found = []
        for net_dir in self.ipam_dir.glob("*"):
            found += [p.name for p in net_dir.iterdir()
                      if p.name not in ("lock",) and not p.name.startswith("last_reserved_ip")]
        return sorted(found)

    def bridge_ports(self) -> list[str]:
        out = run("ip", "-o", "link", "show", "master", self.bridge, check=False).stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line]

    def bridge_ports_after_netns_cleanup(self) -> list[str]:
        """Bridge ports, once the kernel has finished destroying deleted netns (bounded wait)."""
        return eventually(self.bridge_ports, lambda ports: not ports, timeout=5, interval=0.1)

    def cache_files(self) -> list[str]:
        results = self.cache_dir / "results"
        return sorted(p.name for p in results.iterdir()) if results.is_dir() else []

    def bridge_plugin(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                     "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(self.ipam_dir)},
            **extra,
        }

    def write_conflist(self, filename: str, plugins: list[dict[str, Any]],
                       version: str = "1.0.0", name: str = "kbt-net", **extra: Any) -> Path:
        path = self.conf_dir / filename
        path.write_text(json.dumps({"cniVersion": version, "name": name, "plugins": plugins,
                                    **extra}))
        return path

    def bridge_backend(self) -> CNINetwork:
        """A backend over the usual conflist: the bridge plugin alone, in 10-kbt.conflist."""
        self.write_conflist("10-kbt.conflist", [self.bridge_plugin()])
        return self.backend()

    def cni_options(self) -> dict[str, Any]:
        """The ``cni`` backend's options for this network's dirs."""
        return {"conf-dir": str(self.conf_dir), "bin-dir": [str(self.bin_dir)],
                "cache-dir": str(self.cache_dir)}

    def docker_server_args(
        self, engine: Any, plugin_timeout: float | None = None
    ) -> dict[str, Any]:
        """Arguments of ``cri_server_factory`` / ``start_server`` for kubert on runtime
        ``docker`` (the private ``engine``) and network ``cni`` on this network."""
        from kubert_docker import plugin as docker_plugin

        cni = self.cni_options()
        if plugin_timeout is not None:
            cni["plugin-timeout"] = plugin_timeout
        return {
            "runtime": "docker", "network": "cni", "plugins": (docker_plugin, cni_plugin),
            "pod_infra_image": engine.pause,
            "options": {"docker": engine.backend_options(), "cni": cni},
        }

    def backend(self, **options: Any) -> CNINetwork:
        base = {**self.cni_options(), "plugin-timeout": 20.0, **options}
        return CNINetwork(BackendContext(root_dir=self.root, options=base))


@contextlib.contextmanager
def bridge_net(
    tmp_path: Path, bridge_prefix: str, subnet_prefix: str, plugins: Sequence[str], conflist: str
) -> Iterator[PrivateNet]:
    """A private bridge and a random /24 of ``subnet_prefix`` (``"10.245"``: 10.245.x.0/24),
    dirs under ``tmp_path``, symlinks to the real ``plugins`` and ``conflist`` holding the
    bridge plugin alone; the bridge is deleted afterwards. Skips without root, iproute2 or
    the plugins. Give each test directory its own prefixes so their networks never meet."""
    if os.geteuid() != 0 or not (SYSTEM_BIN_DIR / "bridge").exists() or shutil.which("ip") is None:
        pytest.skip("needs root, iproute2 and containernetworking-plugins in /usr/lib/cni")
    octet = random.randrange(1, 250)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for plugin in plugins:
        (bin_dir / plugin).symlink_to(SYSTEM_BIN_DIR / plugin)
    net = PrivateNet(
        bridge=f"{bridge_prefix}{octet:03d}{random.randrange(100):02d}",
        subnet=f"{subnet_prefix}.{octet}.0/24", gateway=f"{subnet_prefix}.{octet}.1",
        conf_dir=tmp_path / "net.d", cache_dir=tmp_path / "cache", ipam_dir=tmp_path / "ipam",
        bin_dir=bin_dir, root=tmp_path / "root",
    )
    net.conf_dir.mkdir()
    net.write_conflist(conflist, [net.bridge_plugin()])
    try:
        yield net
    finally:
        run("ip", "link", "del", net.bridge, check=False)


def ns_name(path: str) -> str:
    return Path(path).name


def pod(netns_path: str, name: str = "web", *, sandbox_id: str | None = None,
        ports: tuple[PortMapping, ...] = (), annotations: dict[str, str] | None = None,
        host_network: bool = False) -> PodNetwork:
    sid = sandbox_id or secrets.token_hex(32)
    return PodNetwork(
        sandbox_id=sid,
        metadata=PodSandboxMetadata(name=name, namespace="kbt-ns", uid=f"uid-{sid[:8]}"),
        netns_path=netns_path, port_mappings=ports, annotations=annotations or {},
        host_network=host_network,
    )


def addresses_in(netns_path: str, dev: str) -> list[str]:
    out = run("ip", "-n", ns_name(netns_path), "-o", "addr", "show", "dev", dev).stdout
    return [line.split()[3] for line in out.splitlines()
            if " inet" in line and "scope global" in line]


def link_up(netns_path: str, dev: str) -> bool:
    out = run("ip", "-n", ns_name(netns_path), "-o", "link", "show", "dev", dev).stdout
    return ",UP" in out or "<UP" in out or "state UP" in out


def links_in(netns_path: str) -> list[str]:
    out = run("ip", "-n", ns_name(netns_path), "-o", "link", "show").stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line]
