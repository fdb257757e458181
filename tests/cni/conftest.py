"""Fixtures of the CNI tests: private netns, bridge, subnet, cache and IPAM dirs per test.

Everything lives under the test's tmp dir or carries this run's unique prefix, so nothing
touches the host's real CNI state and the teardown removes all of it.
"""

from __future__ import annotations

import itertools
import os
import random
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cni.helpers import SYSTEM_BIN_DIR, PrivateNet, run

REAL_PLUGINS = ("bridge", "host-local", "loopback", "portmap", "bandwidth", "ptp")
TEST_PLUGIN_SOURCE = Path(__file__).with_name("testplugin.py")
RUN_ID = secrets.token_hex(3)
_counter = itertools.count(1)
# One /24 per test out of 10.244.100.0-10.244.249.0, starting at a random offset per run.
_subnet_base = random.randrange(150)


def _missing_requirements() -> str:
    if os.geteuid() != 0:
        return "CNI tests need root (network namespaces, veths, bridges)"
    if shutil.which("ip") is None:
        return "CNI tests need iproute2's ip"
    missing = [p for p in REAL_PLUGINS if not (SYSTEM_BIN_DIR / p).is_file()]
    if missing:
        return f"containernetworking-plugins missing in {SYSTEM_BIN_DIR}: {', '.join(missing)}"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing_requirements()
    for item in items:
        if "cni" in item.keywords and reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def testnet(tmp_path: Path) -> Iterator[PrivateNet]:
    """A private bridge name and /24, and private conf, cache, IPAM and plugin dirs.

    The plugin dir holds symlinks to the real plugins plus ``kbt-test`` (tests/cni/testplugin.py).
    """
    n = next(_counter)
    octet = 100 + (_subnet_base + n) % 150
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for plugin in REAL_PLUGINS:
        (bin_dir / plugin).symlink_to(SYSTEM_BIN_DIR / plugin)
    script = bin_dir / "kbt-test"
    script.write_text(f"#!{sys.executable} -S\n" + TEST_PLUGIN_SOURCE.read_text())
    script.chmod(0o755)
    net = PrivateNet(
        bridge=f"kbt{RUN_ID}{n:02d}"[:15], subnet=f"10.244.{octet}.0/24",
        gateway=f"10.244.{octet}.1", conf_dir=tmp_path / "net.d", cache_dir=tmp_path / "cache",
        ipam_dir=tmp_path / "ipam", bin_dir=bin_dir, root=tmp_path / "root",
    )
    net.conf_dir.mkdir()
    yield net
    run("ip", "link", "del", net.bridge, check=False)


@pytest.fixture
def netns() -> Iterator[Callable[[], str]]:
    """Make network namespaces (``ip netns add``); returns their paths; deletes them after."""
    made: list[str] = []

    def make() -> str:
        name = f"kbt-{RUN_ID}-{next(_counter)}"
        run("ip", "netns", "add", name)
        made.append(name)
        return f"/var/run/netns/{name}"

    yield make
    for name in made:
        run("ip", "netns", "del", name, check=False)


