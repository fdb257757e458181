"""Bring up ``lo`` in a pod's netns, as the kubelet does for every CNI pod.

The ``loopback`` plugin does it when one is installed; otherwise ``ip link set lo up`` runs
inside the netns through ``nsenter``. Loopback is never torn down: it dies with the netns.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kubert import DeadlineExceededError
from kubert_cni.errors import CNIPluginError
from kubert_cni.invoke import Invocation, find_plugin, run_plugin

LOOPBACK_NETWORK = "cni-loopback"
_LOOPBACK_CONFIG = {"cniVersion": "0.3.1", "name": LOOPBACK_NETWORK, "type": "loopback"}


def loopback_up(
    netns: str, container_id: str, bin_dirs: Sequence[Path], timeout: float
) -> None:
    """:raises CNIPluginError: lo could not be brought up (the message says how it failed)."""
    if find_plugin("loopback", bin_dirs) is not None:
        run_plugin(
            "loopback", LOOPBACK_NETWORK,
            Invocation(command="ADD", container_id=container_id, netns=netns, ifname="lo"),
            _LOOPBACK_CONFIG, bin_dirs, timeout,
        )
        return
    nsenter, ip = shutil.which("nsenter"), shutil.which("ip")
    if nsenter is None or ip is None:
        raise CNIPluginError("loopback", "ADD", LOOPBACK_NETWORK, 0,
                             "no loopback plugin in the CNI bin dirs, and no nsenter/ip to "
                             "bring lo up without it")
    try:
        done = subprocess.run(
            [nsenter, f"--net={netns}", ip, "link", "set", "lo", "up"],
            capture_output=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise DeadlineExceededError(f"ip link set lo up in {netns}", timeout) from None
    if done.returncode != 0:
        raise CNIPluginError("loopback", "ADD", LOOPBACK_NETWORK, 0,
                             f"ip link set lo up in {netns} failed",
                             done.stderr.decode(errors="replace").strip())
