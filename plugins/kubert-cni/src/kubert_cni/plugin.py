"""kubert_cni's hooks: the ``cni`` and ``kubenet`` network backends and their serve flags.

Flag names are cri-dockerd's (and the kubelet's) where one exists.
"""

from __future__ import annotations

from kubert import RegisterBackend, ServeOption, hookimpl
from kubert_cni.backend import CNINetwork
from kubert_cni.kubenet import KubenetNetwork
from kubert_cni.settings import DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR, DEFAULT_TIMEOUT, HAIRPIN_MODES


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register("cni", CNINetwork)
    register("kubenet", KubenetNetwork)


def _shared(backend: str) -> list[ServeOption]:
    """Flags both backends read: where plugins live, the cache, the timeout, the pod CIDR."""
    return [
        ServeOption(
            flag="--cni-bin-dir", backend=backend, key="bin-dir", type="list",
            default=list(DEFAULT_BIN_DIRS),
            help="directories searched for CNI plugin binaries, in order (repeat or comma-list)",
        ),
        ServeOption(
            flag="--cni-cache-dir", backend=backend, key="cache-dir",
            help="CNI result cache (default: <root-directory>/<network-plugin>/cache)",
        ),
        ServeOption(
            flag="--cni-plugin-timeout", backend=backend, key="plugin-timeout", type="float",
            default=DEFAULT_TIMEOUT,
            help="seconds one CNI plugin call may take before it is killed",
        ),
        ServeOption(
            flag="--cni-internal-loopback", backend=backend, key="internal-loopback",
            type="bool", default=True,
            help="bring lo up in each pod's netns in-process (containerd's "
            "use_internal_loopback); --no-cni-internal-loopback runs the loopback plugin",
        ),
        ServeOption(
            flag="--pod-cidr", backend=backend, key="pod-cidr",
            help="the node's pod CIDR(s), comma-separated; kubenet's address range, and "
            "ipRanges for CNI plugins declaring that capability",
        ),
    ]


@hookimpl
def kubert_serve_options() -> list[ServeOption]:
    return [
        ServeOption(
            flag="--cni-conf-dir", backend="cni", key="conf-dir", default=DEFAULT_CONF_DIR,
            help="directory of CNI network configs; the first valid one (by name) is used",
        ),
        *_shared("cni"),
        *_shared("kubenet"),
        ServeOption(
            flag="--network-plugin-mtu", backend="kubenet", key="mtu", type="int", default=0,
            help="MTU of kubenet's bridge and pod interfaces (0: the bridge plugin's default)",
        ),
        ServeOption(
            flag="--hairpin-mode", backend="kubenet", key="hairpin-mode",
            default="hairpin-veth",
            help=f"how pods reach themselves through a service: {', '.join(HAIRPIN_MODES)}",
        ),
        ServeOption(
            flag="--non-masquerade-cidr", backend="kubenet", key="non-masquerade-cidr",
            help="traffic from pods to this CIDR keeps its source address (kubenet)",
        ),
        ServeOption(
            flag="--kubenet-bridge", backend="kubenet", key="bridge", default="cbr0",
            help="the Linux bridge kubenet attaches pods to",
        ),
        ServeOption(
            flag="--kubenet-ipam-dir", backend="kubenet", key="ipam-dir",
            help="host-local lease directory of kubenet (default: <root-directory>/kubenet/ipam)",
        ),
    ]
