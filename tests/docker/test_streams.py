"""Exec / Attach streams and PortForward sockets of the docker runtime, on the real engine."""

from __future__ import annotations

import time
from typing import Any

import pytest

import kubert
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker


def _drain(stream: Any, limit: float = 10) -> dict[int, bytes]:
    out: dict[int, bytes] = {kubert.STDOUT: b"", kubert.STDERR: b""}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        chunk = stream.read()
        if chunk is None:
            break
        out[chunk[0]] += chunk[1]
    return out


def test_exec_stream_with_stdin_and_exit_code(pods: Any) -> None:
    cid = pods.run("sleep", "60")
    stream = pods.runtime.exec_stream(kubert.ExecRequest(
        container_id=cid, cmd=("sh", "-c", "read line; echo got:$line; echo e >&2; exit 5"),
        stdin=True, stdout=True, stderr=True))
    try:
        stream.write_stdin(b"hello\n")
        stream.close_stdin()
        out = _drain(stream)
        assert out == {kubert.STDOUT: b"got:hello\n", kubert.STDERR: b"e\n"}
        assert stream.wait() == 5
    finally:
        stream.close()


def test_exec_stream_with_tty(pods: Any) -> None:
    cid = pods.run("sleep", "60")
    stream = pods.runtime.exec_stream(kubert.ExecRequest(
        container_id=cid, cmd=("sh", "-c", "[ -t 1 ] && echo is-a-tty"), tty=True,
        stdout=True))
    try:
        stream.resize(100, 30)
        assert b"is-a-tty" in _drain(stream)[kubert.STDOUT]
        assert stream.wait() == 0
    finally:
        stream.close()


def test_attach_stream_sees_the_main_process_output(pods: Any) -> None:
    cid = pods.run("sh", "-c", "read line; echo attached:$line; sleep 60", stdin=True)
    stream = pods.runtime.attach_stream(kubert.AttachRequest(
        container_id=cid, stdin=True, stdout=True, stderr=True))
    try:
        stream.write_stdin(b"hi\n")
        deadline = time.monotonic() + 10
        seen = b""
        while b"attached:hi" not in seen and time.monotonic() < deadline:
            chunk = stream.read()
            if chunk is None:
                break
            seen += chunk[1]
        assert b"attached:hi" in seen
        assert stream.wait() is None
    finally:
        stream.close()


def test_port_forward_reaches_the_pod_loopback(pods: Any) -> None:
    sandbox_id = pods.sandbox()
    pods.container(sandbox_id, "sh", "-c", "mkdir -p /www && echo forwarded > /www/index.html "
                   "&& exec httpd -f -p 127.0.0.1:8080 -h /www")
    request = kubert.PortForwardRequest(pod_sandbox_id=sandbox_id, port=(8080,))

    def fetch() -> bytes:
        try:
            sock = pods.runtime.port_forward_stream(request, 8080)
        except ConnectionRefusedError:
            return b""
        with sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            return data

    assert b"forwarded" in eventually(fetch, timeout=10, interval=0.02)


def test_streams_need_a_running_container(pods: Any) -> None:
    cid = pods.run("true")
    eventually(lambda: pods.runtime.container_status(cid).state
               == kubert.ContainerState.CONTAINER_EXITED, timeout=10, interval=0.02)
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.exec_stream(kubert.ExecRequest(container_id=cid, cmd=("true",), stdout=True))
