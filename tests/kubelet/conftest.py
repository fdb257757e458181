"""Fixtures of the kubelet tests: one in-memory CRI server per module, a manager per test."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kubert.cli import build_cli
from kubert.cri.client import CriClient
from kubert.kubelet import FakeClock, KubeletConfig, RuntimeManager
from kubert.plugins import PluginHost
from tests.cni.helpers import PrivateNet, bridge_net
from tests.fixtures.server import RunningServer, start_server

_names = itertools.count()

#: Runs ``kubert ARGS...`` in-process and returns click's result.
Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def memory_server() -> Iterator[RunningServer]:
    """A real kubert CRI server on a unix socket, memory runtime, noop network."""
    workdir = Path(tempfile.mkdtemp(prefix="kubert-kl-", dir="/tmp"))
    server = start_server(workdir)
    yield server
    server.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def memory_cri(memory_server: RunningServer) -> Iterator[CriClient]:
    client = memory_server.client()
    yield client
    client.close()


def new_manager(cri: CriClient, root: Path) -> tuple[RuntimeManager, FakeClock]:
    # starts at the real time: probes count their initial delay from the runtime's StartedAt
    clock = FakeClock(current=time.time())
    config = KubeletConfig(root_dir=root / "kubelet", log_root=root / "logs")
    return RuntimeManager(cri, config, clock), clock


def unique_name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@contextmanager
def private_cni(tmp_path: Path, bridge: str, subnet_prefix: str) -> Iterator[PrivateNet]:
    """A private CNI bridge and a /24 of ``subnet_prefix`` for one test (skips without root or
    the plugins); each test file passes its own bridge name and prefix."""
    plugins = ("bridge", "host-local", "loopback", "portmap")
    with bridge_net(tmp_path, bridge, subnet_prefix, plugins, f"10-{bridge}.conflist") as net:
        yield net


@pytest.fixture(scope="module")
def cli() -> click.Group:
    """kubert's command line as the entry point builds it (autoload off: kubert's own layers)."""
    return build_cli(PluginHost(autoload=False).load())


def invoker(cli: click.Group, endpoint: str, tmp_path: Path) -> Invoke:
    """``kubert`` against the CRI server at ``endpoint``, with the kubelet root
    ``tmp_path/kubelet`` and the log root ``tmp_path/logs``."""
    env = {
        "CONTAINER_RUNTIME_ENDPOINT": endpoint,
        "KUBERT_KUBELET_ROOT": str(tmp_path / "kubelet"),
        "KUBERT_LOG_ROOT": str(tmp_path / "logs"),
    }

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def run(cli: click.Group, memory_server: RunningServer, tmp_path: Path) -> Invoke:
    """``kubert`` against the module's in-memory CRI server, with a private kubelet root."""
    return invoker(cli, memory_server.address, tmp_path)
