"""The server's unix socket: parent directory, mode, group, stale sockets, live servers."""

from __future__ import annotations

import grp
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert import FailedPreconditionError, InvalidArgumentError
from kubert.cri.client import CriClient
from kubert.cri.server import CriServer
from kubert.cri.socket import Endpoint, parse_endpoint
from tests.fixtures.server import start_server


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kubert-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("unix:///run/kubert/kubert.sock", "unix:///run/kubert/kubert.sock"),
        ("unix:/run/k.sock", "unix:///run/k.sock"),
        ("/run/k.sock", "unix:///run/k.sock"),
        ("tcp://127.0.0.1:9999", "tcp://127.0.0.1:9999"),
    ],
)
def test_parse_endpoint(address: str, expected: str) -> None:
    assert str(parse_endpoint(address)) == expected


@pytest.mark.parametrize(
    "address", ["", "relative.sock", "unix://relative.sock", "tcp://nohost", "http://x:1",
                "unix:///" + "x" * 200]
)
def test_parse_endpoint_refuses(address: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_endpoint(address)
    assert info.value.field == "container_runtime_endpoint"


def test_parent_created_mode_0660_and_removed_on_stop(workdir: Path) -> None:
    nested = workdir / "run" / "deeper"
    server = start_server(nested)
    try:
        mode = server.socket_path.stat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o660
    finally:
        server.stop()
    assert not server.socket_path.exists()


def test_socket_group(workdir: Path) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    running = start_server(workdir)
    try:
        other = CriServer(
            running.service, lambda **kw: kw["call"](kw["request"]),
            Endpoint("unix", path=workdir / "grouped.sock"), socket_group=group,
        )
        other.start()
        try:
            assert (workdir / "grouped.sock").stat().st_gid == os.getgid()
        finally:
            other.stop(0)
    finally:
        running.stop()


def test_unknown_socket_group_is_refused(workdir: Path) -> None:
    running = start_server(workdir)
    try:
        other = CriServer(
            running.service, lambda **kw: kw["call"](kw["request"]),
            Endpoint("unix", path=workdir / "g.sock"), socket_group="no-such-group-kubert",
        )
        with pytest.raises(InvalidArgumentError, match="no such group"):
            other.start()
        other.stop(0)
    finally:
        running.stop()


def test_stale_socket_is_replaced(workdir: Path) -> None:
    stale = workdir / "kubert.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))  # bound, never listening: what a crashed server leaves
    leftover.close()
    assert stale.exists()
    server = start_server(workdir)
    try:
        with CriClient.connect(server.address) as client:
            assert client.version().runtime_name == "kubert"
    finally:
        server.stop()


def test_live_server_is_not_stolen(workdir: Path) -> None:
    first = start_server(workdir)
    try:
        with pytest.raises(FailedPreconditionError, match="already listening"):
            start_server(workdir)
        with CriClient.connect(first.address) as client:  # the first one is unharmed
            assert client.version().runtime_name == "kubert"
    finally:
        first.stop()


def test_non_socket_file_is_not_replaced(workdir: Path) -> None:
    (workdir / "kubert.sock").write_text("precious")
    with pytest.raises(FailedPreconditionError, match="not a socket"):
        start_server(workdir)
    assert (workdir / "kubert.sock").read_text() == "precious"
