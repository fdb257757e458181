"""Fixtures of the crash tests: a private CNI network and ``kubert serve`` as a subprocess.

The crash tests need root (network namespaces, veths, a bridge), the real CNI plugins in
/usr/lib/cni and the private dockerd of kubert_docker.testing. Each network gets a bridge
``kcrash<run><n>`` and a /24 out of 10.247.0.0/16, both picked at random per run, so they are
distinct from the other suites' (the CNI tests use 10.244.100-249) and from a second run of
these tests on the same host.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.crash.harness import REPORTS, SYSTEM_CNI_BIN, CrashNet, KubertProcess


def _missing() -> str:
    if os.geteuid() != 0:
        return "crash tests need root (network namespaces, veths, bridges)"
    if shutil.which("ip") is None:
        return "crash tests need iproute2's ip"
    needed = ("bridge", "host-local", "loopback")
    missing = [p for p in needed if not (SYSTEM_CNI_BIN / p).is_file()]
    if missing:
        return f"containernetworking-plugins missing in {SYSTEM_CNI_BIN}: {', '.join(missing)}"
    return ""


@pytest.fixture
def crash_workdir() -> Iterator[Path]:
    # A short path under /tmp: the socket path must stay under 107 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="kubert-crash-", dir="/tmp"))
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


RUN_TAG = secrets.token_hex(2)
_octets = random.sample(range(1, 250), 3)


@contextlib.contextmanager
def serving(workdir: Path, engine: Any, index: int) -> Iterator[KubertProcess]:
    """``kubert serve`` (not started) on docker + cni; network ``index`` of this run. Killed
    afterwards, with the engine's containers and the network removed."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    net = CrashNet(root=workdir, bridge=f"kcrash{RUN_TAG}{index}",
                   subnet=f"10.247.{_octets[index]}.0/24")
    net.create()
    server = KubertProcess(workdir=workdir, engine=engine, net=net)
    server.write_config()
    yield server
    server.kill()
    engine.remove_all_containers()
    net.destroy()


@pytest.fixture
def crash_server(clean_engine: Any, crash_workdir: Path) -> Iterator[KubertProcess]:
    """``kubert serve`` (not started) on docker + cni: the crash harness's."""
    with serving(crash_workdir, clean_engine, 0) as server:
        yield server


@pytest.fixture
def busy_server(clean_engine: Any, crash_workdir: Path) -> Iterator[KubertProcess]:
    """The same for the concurrency test, on a network of its own."""
    with serving(crash_workdir, clean_engine, 1) as server:
        yield server


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORTS:
        terminalreporter.section("kubert crash-safety figures")
        for line in REPORTS:
            terminalreporter.write_line(line)
