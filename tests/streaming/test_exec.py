"""Exec end to end: CRI Exec over the unix socket, then the returned URL over real TCP with
both protocols, into a real container on a private dockerd."""

from __future__ import annotations

import io
import json

import pytest
from websockets.sync.client import connect

from kubert.streaming.client import RemoteCommand
from tests.streaming.harness import Stack
from tests.streaming.spdyclient import run_exec

pytestmark = pytest.mark.docker

BIG = 3_000_000


def ws_exec(url: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    session = RemoteCommand(url)
    out, err = io.BytesIO(), io.BytesIO()
    code = session.run(io.BytesIO(stdin) if stdin is not None else None, out, err)
    return code, out.getvalue(), err.getvalue()


# ---- WebSocket -------------------------------------------------------------------------


def test_ws_exec_splits_stdout_and_stderr(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", "echo out; echo err >&2", stderr=True)
    assert url.startswith(stack.streaming.base_url + "/exec/")
    assert ws_exec(url) == (0, b"out\n", b"err\n")


def test_ws_exec_reports_non_zero_exit_as_status(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", "exit 7", stderr=True)
    with connect(url.replace("http://", "ws://"), subprotocols=["v4.channel.k8s.io"],
                 proxy=None) as ws:
        assert ws.subprotocol == "v4.channel.k8s.io"
        status = b""
        for message in ws:
            assert isinstance(message, bytes)
            if message[0] == 3:
                status += message[1:]
    parsed = json.loads(status)
    assert parsed["status"] == "Failure"
    assert parsed["reason"] == "NonZeroExitCode"
    assert parsed["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]


def test_ws_exec_stdin_with_v5_close(stack: Stack) -> None:
    data = bytes(range(256)) * 400
    url = stack.exec_url("cat", stdin=True)
    assert ws_exec(url, stdin=data) == (0, data, b"")


def test_ws_exec_large_output(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", f"yes 0123456789 | head -c {BIG}")
    code, out, _ = ws_exec(url)
    assert (code, len(out)) == (0, BIG)
    assert out[:22] == b"0123456789\n0123456789\n"


def test_ws_exec_base64_protocol(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", "printf 'a\\0b'; exit 2")
    with connect(url.replace("http://", "ws://"),
                 subprotocols=["v4.base64.channel.k8s.io"], proxy=None) as ws:
        assert ws.subprotocol == "v4.base64.channel.k8s.io"
        messages = [m for m in ws]
    assert all(isinstance(m, str) for m in messages)
    import base64

    out = b"".join(base64.b64decode(m[1:]) for m in messages if m[0] == "1")
    status = json.loads(b"".join(base64.b64decode(m[1:]) for m in messages if m[0] == "3"))
    assert out == b"a\0b"
    assert status["details"]["causes"][0]["message"] == "2"


def test_ws_exec_tty_with_resize(stack: Stack) -> None:
    url = stack.exec_url("sh", stdin=True, tty=True)
    session = RemoteCommand(url)
    session.resize(123, 45)
    # The resize travels apart from stdin, so ask the shell until it sees the new size.
    session.write_stdin(b"until [ \"$(stty size)\" = '45 123' ]; do sleep 0.05; done; "
                        b"echo SIZE-$(stty size | tr ' ' x)\n")
    seen = b""
    messages = session.messages()
    for channel, data in messages:
        seen += data if channel == 1 else b""
        if b"SIZE-45x123" in seen:
            break
    assert b"SIZE-45x123" in seen
    session.write_stdin(b"exit 3\n")
    status = b"".join(data for channel, data in messages if channel == 3)
    assert json.loads(status)["details"]["causes"][0]["message"] == "3"


# ---- SPDY --------------------------------------------------------------------------------


def test_spdy_exec_stdin_stdout_stderr_exit_code(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", "cat; echo err >&2; exit 5", stdin=True, stderr=True)
    out, err, status = run_exec(url, stdin=b"hello spdy\n")
    assert (out, err) == (b"hello spdy\n", b"err\n")
    parsed = json.loads(status)
    assert parsed["reason"] == "NonZeroExitCode"
    assert parsed["details"]["causes"] == [{"reason": "ExitCode", "message": "5"}]


def test_spdy_exec_success_status(stack: Stack) -> None:
    out, err, status = run_exec(stack.exec_url("echo", "ok", stderr=True))
    assert (out, err) == (b"ok\n", b"")
    assert json.loads(status) == {"metadata": {}, "status": "Success"}


def test_spdy_exec_large_output(stack: Stack) -> None:
    url = stack.exec_url("sh", "-c", f"yes abcdefghi | head -c {BIG}", stderr=True)
    out, _, status = run_exec(url)
    assert len(out) == BIG
    assert json.loads(status)["status"] == "Success"


def test_spdy_exec_tty_resize(stack: Stack) -> None:
    wait = "timeout 20 sh -c 'until [ \"$(stty size)\" = \"37 101\" ]; do sleep 0.05; done'"
    url = stack.exec_url("sh", "-c", f"{wait}; echo SIZE-$(stty size | tr ' ' x)",
                         stdin=True, tty=True)
    out, _, status = run_exec(url, stdin=b"", tty=True, resize=(101, 37))
    assert b"SIZE-37x101" in out
    assert json.loads(status)["status"] == "Success"


@pytest.mark.parametrize("protocol", ["v3.channel.k8s.io", "v2.channel.k8s.io"])
def test_spdy_older_protocols_report_errors_as_text(stack: Stack, protocol: str) -> None:
    url = stack.exec_url("sh", "-c", "echo x; exit 4", stderr=True)
    out, _, status = run_exec(url, protocol=protocol)
    assert out == b"x\n"
    assert status.startswith(b"command terminated with non-zero exit code")
    assert b"exit code 4" in status
