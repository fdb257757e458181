"""Faults in a real chain: a plugin that fails, hangs, crashes or prints garbage.

The chain is the real bridge + host-local followed by the test plugin (tests/cni/testplugin.py,
a fault injector). Each fault must give a clear error and leave no lease, veth or cache file.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from kubert import DeadlineExceededError, UnavailableError
from kubert_cni.errors import CNIPluginError
from tests.cni.helpers import PrivateNet, links_in, pod

pytestmark = pytest.mark.cni


def _pids_of_plugin(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"failOn": "ADD"}, "CNI plugin 'kbt-test' failed ADD on network 'kbt-net' with error "
                            "code 7: injected failure (failOn=ADD)"),
        ({"garbageOn": "ADD"}, "printed output that is not JSON: 'this is not json {'"),
        ({"crashOn": "ADD"}, "exited 3 without an error result (segfault-ish: injected crash)"),
        ({"floodOn": "ADD"}, "printed more than 4194304 bytes"),
    ],
)
def test_failing_plugin_gives_clear_error_and_leaves_nothing(
    testnet: PrivateNet, netns: Callable[[], str], fault: dict[str, str], expected: str
) -> None:
    testnet.write_conflist("10-kbt.conflist",
                           [testnet.bridge_plugin(), {"type": "kbt-test", **fault}])
    backend = testnet.backend()
    path = netns()
    with pytest.raises(CNIPluginError) as caught:
        backend.setup_pod(pod(path))
    assert expected in str(caught.value)
    assert testnet.leases() == []
    assert testnet.bridge_ports() == []
    assert testnet.cache_files() == []
    assert links_in(path) == ["lo"]


def test_hung_plugin_is_killed_at_the_timeout_and_leaves_nothing(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    testnet.write_conflist("10-kbt.conflist",
                           [testnet.bridge_plugin(), {"type": "kbt-test", "hangOn": "ADD"}])
    backend = testnet.backend(**{"plugin-timeout": 1.0})
    p = pod(netns())
    with pytest.raises(DeadlineExceededError, match="CNI plugin 'kbt-test' ADD on network "
                                                    "'kbt-net' did not finish within 1s"):
        backend.setup_pod(p)
    # The plugin and the child it forked were killed with their process group.
    assert _pids_of_plugin(f"CNI_CONTAINERID={p.sandbox_id}") == []
    assert testnet.leases() == [] and testnet.bridge_ports() == []
    assert testnet.cache_files() == []


def test_missing_plugin_binary_and_missing_config(
    testnet: PrivateNet, netns: Callable[[], str]
) -> None:
    backend = testnet.backend()
    with pytest.raises(UnavailableError, match="cni config uninitialized: no network config "
                                               "found in"):
        backend.setup_pod(pod(netns()))
    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin(), {"type": "kbt-nope"}])
    condition = backend.status()
    assert condition.status is False
    assert "needs CNI plugin(s) kbt-nope" in condition.message
    with pytest.raises(CNIPluginError, match="no executable 'kbt-nope' in the CNI bin dirs"):
        backend.setup_pod(pod(netns()))
    assert testnet.leases() == [] and testnet.bridge_ports() == []


def test_network_ready_follows_the_config_dir_while_serving(testnet: PrivateNet) -> None:
    backend = testnet.backend()
    condition = backend.status()
    assert condition.status is False
    assert condition.reason == "NetworkPluginNotReady"
    assert "no network config found in" in condition.message
    (testnet.conf_dir / "05-bad.conf").write_text("{")
    condition = backend.status()
    assert condition.status is False and "05-bad.conf: not valid JSON" in condition.message

    testnet.write_conflist("10-kbt.conflist", [testnet.bridge_plugin()])

    assert backend.status().status is True
    assert backend.current_network() is not None
    (testnet.conf_dir / "10-kbt.conflist").unlink()
    assert backend.status().status is False
