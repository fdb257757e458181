"""``--container-runtime-endpoint fd://``: kubert serves the socket systemd passes.

Real parts: Debian's ``systemd-socket-activate`` (the socket-passing half of systemd, runnable
without systemd as PID 1), the real crictl, and ``kubert serve`` as a subprocess. The restart
test plays systemd's part itself: it holds the listening socket and hands it to each kubert
exactly as systemd does (descriptor 3, ``LISTEN_PID``/``LISTEN_FDS``/``LISTEN_FDNAMES``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert.errors import FailedPreconditionError
from kubert.systemd.listen import ListenFd, listen_fds, pick

from .systemd_helpers import (
    CRICTL,
    MAIN,
    crictl,
    memory_serve,
    passthrough_env,
    socket_activate,
)

POD = {"metadata": {"name": "activated", "namespace": "default", "uid": "activated-uid"}}


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Short: a unix socket path is at most 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="kubert-sd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def test_systemd_socket_activate_hands_kubert_the_socket(workdir: Path) -> None:
    activate = socket_activate()
    sock = workdir / "kubert.sock"
    pod_file = workdir / "pod.json"
    pod_file.write_text(json.dumps(POD))
    process = subprocess.Popen(
        [activate, *passthrough_env(), "--listen", str(sock), "--fdname=kubert",
         *memory_serve("fd://kubert", workdir / "root")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for _ in range(300):
            if sock.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert sock.exists(), process.communicate(timeout=10)
        endpoint = f"unix://{sock}"
        # systemd-socket-activate starts kubert only when this first connection arrives: the
        # call waits in the socket's backlog until kubert accepts it from the passed socket.
        version = crictl(endpoint, "version")
        assert version.returncode == 0, version.stderr
        assert "RuntimeName:  kubert" in version.stdout
        run = crictl(endpoint, "runp", str(pod_file))
        assert run.returncode == 0, run.stderr
        sandbox_id = run.stdout.strip()
        pods = crictl(endpoint, "pods", "-q")
        assert pods.stdout.split() == [sandbox_id]
        inspect = crictl(endpoint, "inspectp", sandbox_id)
        assert json.loads(inspect.stdout)["status"]["metadata"]["name"] == "activated"
    finally:
        output = _stop(process) if process.poll() is None else process.communicate()[0]
    assert process.returncode == 0, output
    assert f"listening on fd://kubert (unix://{sock})" in output
    assert "Traceback" not in output
    # The socket is systemd's: kubert leaves it in place for the next instance.
    assert sock.exists()


def _hand_over(listener: socket.socket, *argv: str) -> subprocess.Popen[str]:
    """Start kubert as systemd would: the socket on descriptor 3, the variables for its pid."""
    launcher = (
        "import os, sys\n"
        "os.dup2(int(sys.argv[1]), 3)\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1', LISTEN_FDNAMES='kubert')\n"
        "os.execv(sys.executable, [sys.executable, '-c', sys.argv[2], *sys.argv[3:]])\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", launcher, str(listener.fileno()), MAIN, *argv],
        pass_fds=(listener.fileno(),), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )


def _crictl_in_background(endpoint: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CRICTL), "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
         "--timeout", "30s", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_the_socket_and_waiting_calls_survive_a_restart(workdir: Path) -> None:
    if not CRICTL.exists():
        pytest.skip(f"crictl is not at {CRICTL}")
    sock = workdir / "kubert.sock"
    endpoint = f"unix://{sock}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock))
    listener.listen(64)
    pod_file = workdir / "pod.json"
    pod_file.write_text(json.dumps(POD))
    argv = memory_serve("fd://kubert", workdir / "root")[3:]  # after "python -c MAIN"
    try:
        early = _crictl_in_background(endpoint, "version")  # before any kubert runs
        first = _hand_over(listener, *argv)
        try:
            out, err = early.communicate(timeout=60)
            assert early.returncode == 0, err
            assert "RuntimeName:  kubert" in out
            run = crictl(endpoint, "runp", str(pod_file))
            assert run.returncode == 0, run.stderr
            sandbox_id = run.stdout.strip()
        finally:
            first_output = _stop(first)
        assert first.returncode == 0, first_output
        assert sock.exists()
        # No kubert runs now; this call waits in the backlog for the next one.
        waiting = _crictl_in_background(endpoint, "pods", "-q")
        second = _hand_over(listener, *argv)
        try:
            out, err = waiting.communicate(timeout=60)
            assert waiting.returncode == 0, err
            # The memory runtime forgot the sandbox; its checkpoint lists it (NOTREADY).
            assert out.split() == [sandbox_id]
        finally:
            second_output = _stop(second)
        assert second.returncode == 0, second_output
    finally:
        listener.close()


def test_fd_endpoint_without_a_passed_socket_names_the_variables(workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    result = subprocess.run(
        memory_serve("fd://", workdir / "root"), capture_output=True, text=True, timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert "LISTEN_FDS" in result.stderr and "LISTEN_PID" in result.stderr
    assert "Traceback" not in result.stderr


def test_listen_fds_reads_and_clears_the_variables() -> None:
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "1", "LISTEN_FDNAMES": "kubert"}
    read, write = os.pipe()
    os.dup2(read, 3) if read != 3 else None
    try:
        passed = listen_fds(env)
    finally:
        os.close(write)
        if read != 3:
            os.close(read)
    assert passed == [ListenFd(3, "kubert")]
    assert env == {}  # a child (a CNI plugin) must not take them for its own
    assert pick(passed, "kubert") == passed[0] and pick(passed) == passed[0]
    with pytest.raises(FailedPreconditionError, match="LISTEN_FDNAMES names no such"):
        pick(passed, "other")


def test_listen_fds_for_another_pid_or_malformed() -> None:
    assert listen_fds({"LISTEN_PID": "1", "LISTEN_FDS": "1"}) == []
    assert listen_fds({}) == []
    mine = str(os.getpid())
    with pytest.raises(FailedPreconditionError, match="LISTEN_FDS='x'"):
        listen_fds({"LISTEN_PID": mine, "LISTEN_FDS": "x"})
    with pytest.raises(FailedPreconditionError, match="names 2 descriptors but LISTEN_FDS=1"):
        listen_fds({"LISTEN_PID": mine, "LISTEN_FDS": "1", "LISTEN_FDNAMES": "a:b"})
    with pytest.raises(FailedPreconditionError, match="is not open"):
        listen_fds({"LISTEN_PID": mine, "LISTEN_FDS": "2000"})


def test_a_passed_socket_that_is_not_listening_is_refused() -> None:
    from kubert.cri.activation import adopt_listener

    left, right = socket.socketpair()
    try:
        with pytest.raises(FailedPreconditionError, match="not a listening stream socket"):
            adopt_listener(ListenFd(left.fileno(), "pair"))
        left.send(b"still mine")  # refused, not closed
        assert right.recv(16) == b"still mine"
    finally:
        left.close()
        right.close()
