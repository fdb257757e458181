"""The ``kubenet`` network backend: with only a pod CIDR, kubert builds the chain itself.

bridge (with host-local IPAM over the pod CIDR) + portmap (+ bandwidth when installed), and
loopback in every pod, as the kubelet's kubenet did; a single node needs no CNI config file.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from kubert import (
    NETWORK_READY,
    BackendContext,
    PodNetwork,
    PodSandboxNetworkStatus,
    RuntimeCondition,
)
from kubert_cni import masquerade
from kubert_cni.backend import NOT_READY_REASON, CNINetwork
from kubert_cni.config import NetworkConfigList
from kubert_cni.invoke import find_plugin

KUBENET_NETWORK = "kubenet"
#: Spec 0.4.0: CHECK and cached DEL, and spoken by every containernetworking-plugins release
#: since 0.8, so older node images work too.
KUBENET_CNI_VERSION = "0.4.0"


class KubenetNetwork(CNINetwork):
    """The chain built from ``--pod-cidr`` (or UpdateRuntimeConfig's pod CIDR)."""

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self._masquerading: list[str] = []
        # Pods start in parallel; iptables' check-then-append must not add the rule twice.
        self._masquerade_lock = threading.Lock()

    def _load(self) -> tuple[NetworkConfigList | None, str]:
        if not self.pod_cidrs:
            return None, ("kubenet does not have a pod CIDR yet (set --pod-cidr, or wait for "
                          "UpdateRuntimeConfig)")
        return build_network(self), ""

    def status(self) -> RuntimeCondition:
        if not self.pod_cidrs:
            return RuntimeCondition.not_ready(NETWORK_READY, NOT_READY_REASON, self._load()[1])
        return super().status()

    def setup_pod(self, pod: PodNetwork) -> PodSandboxNetworkStatus:
        if not pod.host_network and self.settings.non_masquerade_cidr:
            self._ensure_masquerade()
        return super().setup_pod(pod)

    def _ensure_masquerade(self) -> None:
        with self._masquerade_lock:
            for cidr in self.pod_cidrs:
                if cidr in self._masquerading:
                    continue
                family = ipaddress.ip_network(cidr).version
                if ipaddress.ip_network(self.settings.non_masquerade_cidr).version != family:
                    continue
                masquerade.ensure(cidr, self.settings.non_masquerade_cidr)
                self._masquerading.append(cidr)

    def close(self) -> None:
        with self._masquerade_lock:
            for cidr in self._masquerading:
                masquerade.remove(cidr, self.settings.non_masquerade_cidr)
            self._masquerading.clear()
        super().close()


def build_network(backend: KubenetNetwork) -> NetworkConfigList:
    """The kubenet config list for the backend's pod CIDRs and settings."""
    settings = backend.settings
    cidrs = backend.pod_cidrs
    ipam: dict[str, Any] = {
        "type": "host-local",
        "ranges": [[{"subnet": cidr}] for cidr in cidrs],
        "routes": [
            {"dst": "0.0.0.0/0" if ipaddress.ip_network(c).version == 4 else "::/0"}
            for c in cidrs
        ],
        "dataDir": str(settings.ipam_dir),
    }
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": settings.bridge,
        "isGateway": True,
        # Without a non-masquerade CIDR the bridge plugin masquerades everything leaving the
        # pod CIDR; with one, kubenet's own rule spares that CIDR.
        "ipMasq": not settings.non_masquerade_cidr,
        "hairpinMode": settings.hairpin_mode == "hairpin-veth",
        "promiscMode": settings.hairpin_mode == "promiscuous-bridge",
        "ipam": ipam,
    }
    if settings.mtu:
        bridge["mtu"] = settings.mtu
    plugins: list[dict[str, Any]] = [
        bridge,
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    ]
    if find_plugin("bandwidth", settings.bin_dirs) is not None:
        plugins.append({"type": "bandwidth", "capabilities": {"bandwidth": True}})
    return NetworkConfigList(
        name=KUBENET_NETWORK, cni_version=KUBENET_CNI_VERSION, plugins=tuple(plugins),
        source="kubenet (built from the pod CIDR)",
    )
