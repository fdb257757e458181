"""Security defaults of ``kubert serve`` as started from the command line: the socket is 0660,
owned by root and the configured group, from the moment it exists (even under umask 0), and the
process listens on no TCP address except, when asked, the loopback streaming server."""

from __future__ import annotations

import grp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc as rpc

from kubert_docker.testing import stop_pid
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="checks root ownership of the socket")


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kubert-sec-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(workdir: Path, *flags: str) -> subprocess.Popen[bytes]:
    """``kubert serve`` on the in-memory runtime, under umask 0 (the worst a unit file sets)."""
    env = dict(os.environ)
    env.pop("KUBERT_DISABLE_PLUGIN_AUTOLOAD", None)
    command = [
        sys.executable, "-c", "from kubert.cli import main; main()", "serve",
        "--runtime", "memory", "--network-plugin", "noop",
        "--container-runtime-endpoint", f"unix://{workdir}/run/kubert.sock",
        "--root-directory", str(workdir / "root"), *flags,
    ]
    with (workdir / "serve.log").open("wb") as log:
        # The shell sets the umask (a preexec_fn would run Python in a fork of this
        # grpc-threaded process).
        return subprocess.Popen(
            ["/bin/sh", "-c", 'umask 000 && exec "$@"', "sh", *command],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )


def _wait_answering(path: Path, proc: subprocess.Popen[bytes]) -> None:
    """Wait for a CRI answer on ``path``: gRPC serves only once the socket is secured, while a
    bare connect() already succeeds in the moment between bind and chown."""
    channel = grpc.insecure_channel(f"unix://{path}")
    stub = rpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]

    def answering() -> bool:
        assert proc.poll() is None, "kubert serve exited early"
        try:
            stub.Version(pb.VersionRequest(), timeout=2)
            return True
        except grpc.RpcError:
            return False

    try:
        assert eventually(answering, timeout=30, interval=0.05), "kubert serve did not answer"
    finally:
        channel.close()


def _tcp_listeners(pid: int) -> list[str]:
    """Local addresses of the TCP sockets ``pid`` listens on (from /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with open(f"/proc/{pid}/net/{table}") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                address, port = local.split(":")
                raw = bytes.fromhex(address)
                if family == socket.AF_INET:
                    host = socket.inet_ntop(family, raw[::-1])
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    host = socket.inet_ntop(family, words)
                found.append(f"{host}:{int(port, 16)}")
    return found


def test_socket_is_0660_root_owned_and_only_loopback_listens(workdir: Path) -> None:
    proc = _serve(workdir)
    path = workdir / "run" / "kubert.sock"
    try:
        _wait_answering(path, proc)
        info = path.stat()
        assert oct(info.st_mode & 0o777) == oct(0o660)
        assert (info.st_uid, info.st_gid) == (0, 0)
        listeners = _tcp_listeners(proc.pid)
        # The streaming server (exec/attach/port-forward URLs) and nothing else.
        assert len(listeners) <= 1, listeners
        assert all(address.startswith("127.0.0.1:") for address in listeners), listeners
    finally:
        stop_pid(proc, 20)
    assert not path.exists()  # removed on the way out


def test_socket_group_is_configurable(workdir: Path) -> None:
    group = next((g for g in grp.getgrall() if g.gr_gid != 0), None)
    if group is None:
        pytest.skip("no group besides root on this machine")
    proc = _serve(workdir, "--socket-group", group.gr_name)
    path = workdir / "run" / "kubert.sock"
    try:
        _wait_answering(path, proc)
        info = path.stat()
        assert (info.st_uid, info.st_gid) == (0, group.gr_gid)
        assert oct(info.st_mode & 0o777) == oct(0o660)
    finally:
        stop_pid(proc, 20)


def test_a_socket_under_umask_0_never_lets_others_in(workdir: Path) -> None:
    """Right after bind, before chmod: the mode the umask left must already exclude others."""
    from kubert.cri.server import CriServer
    from kubert.cri.socket import parse_endpoint

    seen: list[int] = []

    class Probe(CriServer):
        def start(self) -> None:
            original = self.server.add_insecure_port

            def bind(target: str) -> int:
                port = original(target)
                seen.append(os.stat(str(self.endpoint.path)).st_mode & 0o777)
                return port

            self.server.add_insecure_port = bind  # type: ignore[method-assign]
            super().start()

    previous = os.umask(0)
    try:
        server = Probe(None, lambda **_: None,  # type: ignore[arg-type]
                       parse_endpoint(f"unix://{workdir}/probe.sock"))
        server.start()
        server.stop(0)
    finally:
        os.umask(previous)
    assert seen and seen[0] & 0o007 == 0, oct(seen[0])
