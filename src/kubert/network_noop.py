"""The ``noop`` network backend: sandboxes get no network beyond their own loopback.

What cri-dockerd does with no network plugin configured; the default of ``kubert serve`` when
no CNI is wanted, and the network of the in-memory backend's tests.
"""

from __future__ import annotations

from kubert.backends import NetworkBackend, PodNetwork
from kubert.hookspecs import RegisterBackend, hookimpl
from kubert.model import NETWORK_READY, PodSandboxNetworkStatus, RuntimeCondition


class NoopNetwork(NetworkBackend):
    """Always ready; attaches nothing and reports no IPs."""

    def status(self) -> RuntimeCondition:
        return RuntimeCondition.ready(NETWORK_READY)

    def setup_pod(self, pod: PodNetwork) -> PodSandboxNetworkStatus:
        return PodSandboxNetworkStatus()

    def teardown_pod(self, pod: PodNetwork) -> None:
        return None


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register("noop", NoopNetwork)
