"""Attach, port-forward, tokens, limits and concurrency, end to end on the docker backend."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from kubert.errors import InvalidArgumentError, NotFoundError, ResourceExhaustedError
from kubert.model import AttachRequest, ExecRequest, PortForwardRequest
from kubert.streaming.client import RemoteCommand, forward_connection
from tests.fixtures.crictl import crictl
from tests.fixtures.polling import eventually
from tests.streaming.harness import ECHO_PORT, HOLD_PORT, Stack
from tests.streaming.spdyclient import SpdyClient, UpgradeRefused, run_exec, status_of

pytestmark = pytest.mark.docker

WS_HEADERS = [("Connection", "Upgrade"), ("Upgrade", "websocket"),
              ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")]


def pf_url(stack: Stack, *ports: int) -> str:
    return stack.client.port_forward(
        PortForwardRequest(pod_sandbox_id=stack.sandbox_id, port=ports)
    )


# ---- attach ----------------------------------------------------------------------------


def test_attach_ws_stdin_reaches_the_main_process(stack: Stack) -> None:
    url = stack.client.attach(AttachRequest(container_id=stack.console, stdin=True,
                                            stdout=True, stderr=True))
    session = RemoteCommand(url)
    session.write_stdin(b"hello attach\n")
    seen = b""
    for channel, data in session.messages():
        seen += data if channel == 1 else b""
        if b"got:hello attach\n" in seen:
            break
    session.close()
    assert b"got:hello attach\n" in seen


def test_attach_spdy(stack: Stack) -> None:
    url = stack.client.attach(AttachRequest(container_id=stack.console, stdin=True,
                                            stdout=True, stderr=True))
    client = SpdyClient(url, ["v4.channel.k8s.io"])
    try:
        client.open(streamtype="error")
        stdin = client.open(streamtype="stdin")
        stdout = client.open(streamtype="stdout")
        client.open(streamtype="stderr")
        stdin.write(b"via spdy\n")
        seen = b""
        while b"got:via spdy\n" not in seen and (data := stdout.read()) is not None:
            seen += data
        assert b"got:via spdy\n" in seen
    finally:
        client.close()


# ---- port-forward ------------------------------------------------------------------------


def test_port_forward_spdy_two_ports_data_and_errors(stack: Stack) -> None:
    url = pf_url(stack)
    client = SpdyClient(url, ["portforward.k8s.io"])
    assert client.protocol == "portforward.k8s.io"
    try:
        # An echo server inside the pod, and a port where nothing listens.
        error = client.open(streamtype="error", port=str(ECHO_PORT), requestid="0")
        data = client.open(streamtype="data", port=str(ECHO_PORT), requestid="0")
        bad_error = client.open(streamtype="error", port="7999", requestid="1")
        bad_data = client.open(streamtype="data", port="7999", requestid="1")
        payload = os.urandom(1 << 20)
        writer = threading.Thread(target=lambda: (data.write(payload), data.close()))
        writer.start()
        echoed = data.read_all()
        writer.join()
        assert echoed == payload
        assert error.read_all() == b""
        message = bad_error.read_all().decode()
        assert "error forwarding port 7999" in message
        assert "refused" in message.lower()
        assert bad_data.read_all() == b""
    finally:
        client.close()


def test_port_forward_spdy_refuses_ports_outside_the_request(stack: Stack) -> None:
    client = SpdyClient(pf_url(stack, ECHO_PORT), ["portforward.k8s.io"])
    try:
        error = client.open(streamtype="error", port="22", requestid="0")
        client.open(streamtype="data", port="22", requestid="0")
        assert b"not among the ports" in error.read_all()
    finally:
        client.close()


def test_port_forward_websocket_with_port_prefix(stack: Stack) -> None:
    url = pf_url(stack, ECHO_PORT).replace("http://", "ws://")
    with connect(url, subprotocols=["v4.channel.k8s.io"], proxy=None) as ws:
        first = {ws.recv(), ws.recv()}
        prefix = ECHO_PORT.to_bytes(2, "little")
        assert first == {b"\x00" + prefix, b"\x01" + prefix}
        ws.send(b"\x00ping over websocket\n")
        got = b""
        while b"\n" not in got:
            message = ws.recv()
            assert isinstance(message, bytes) and message[0] == 0
            got += message[1:]
        assert got == b"ping over websocket\n"


def test_port_forward_client_relays_a_local_connection(stack: Stack) -> None:
    url = pf_url(stack, ECHO_PORT)
    ours, theirs = socket.socketpair()
    relay = threading.Thread(target=forward_connection, args=(url, ECHO_PORT, theirs))
    relay.start()
    payload = os.urandom(200_000)
    ours.sendall(payload)
    got = b""
    while len(got) < len(payload):
        got += ours.recv(65536)
    ours.close()
    relay.join(30)
    assert got == payload and not relay.is_alive()


def _sessions_drain(stack: Stack) -> bool:
    return eventually(lambda: stack.streaming.active_sessions == 0, timeout=20, interval=0.05)


def test_client_leaving_cuts_pod_connections_that_stay_open(stack: Stack) -> None:
    assert _sessions_drain(stack)
    client = SpdyClient(pf_url(stack), ["portforward.k8s.io"])
    client.open(streamtype="error", port=str(HOLD_PORT), requestid="0")
    data = client.open(streamtype="data", port=str(HOLD_PORT), requestid="0")
    data.write(b"anyone there?")
    ws = connect(pf_url(stack, HOLD_PORT).replace("http://", "ws://"),
                 subprotocols=["v4.channel.k8s.io"], proxy=None).__enter__()
    assert len({ws.recv(), ws.recv()}) == 2  # both channels open with their port
    assert stack.streaming.active_sessions == 2
    client.close()  # abruptly, without a FIN on the data stream
    ws.close()
    assert _sessions_drain(stack)


def test_websocket_frames_sent_right_behind_the_request_are_kept(stack: Stack) -> None:
    parts = urlsplit(stack.exec_url("cat", stdin=True))
    head = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in WS_HEADERS)
            + "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n").encode()
    frames = b"".join(Frame(Opcode.BINARY, data).serialize(mask=True, extensions=[])
                      for data in (b"\x00early\n", b"\xff\x00"))  # stdin, then close stdin
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + frames)
        received = b""
        # Server frames are not masked: stdout's "early\n" shows up verbatim.
        while b"\x01early\n" not in received and (chunk := sock.recv(65536)):
            received += chunk
    assert b"\x01early\n" in received


# ---- tokens, refusals, limits ----------------------------------------------------------


def test_token_is_single_use(stack: Stack) -> None:
    url = stack.exec_url("true")
    run_exec(url)
    with pytest.raises(UpgradeRefused) as refused:
        SpdyClient(url, ["v4.channel.k8s.io"])
    assert refused.value.status == 404
    with pytest.raises(InvalidStatus) as ws_refused:
        connect(url.replace("http://", "ws://"), proxy=None).__enter__()
    assert ws_refused.value.response.status_code == 404


def test_expired_token_is_refused(stack: Stack) -> None:
    url = stack.exec_url("true")
    stack.clock.now += stack.streaming.config.token_ttl + 1
    assert status_of(url, WS_HEADERS, "GET")[0] == 404


def test_token_is_bound_to_its_kind(stack: Stack) -> None:
    url = stack.exec_url("true")
    assert status_of(url.replace("/exec/", "/attach/"), WS_HEADERS, "GET")[0] == 404


def test_plain_http_and_unknown_paths_are_refused(stack: Stack) -> None:
    base = stack.streaming.base_url
    assert status_of(stack.exec_url("true"), [], "GET")[0] == 400
    assert status_of(f"{base}/logs/x", WS_HEADERS, "GET")[0] == 404


def test_spdy_protocol_negotiation_failure_is_403(stack: Stack) -> None:
    with pytest.raises(UpgradeRefused) as refused:
        SpdyClient(stack.exec_url("true"), ["v9.channel.k8s.io"])
    assert refused.value.status == 403
    assert "unable to negotiate protocol" in refused.value.body


def test_rpc_errors_name_the_problem(stack: Stack) -> None:
    with pytest.raises(InvalidArgumentError, match="tty and stderr cannot both be true"):
        stack.client.exec(ExecRequest(container_id=stack.main, cmd=("sh",), tty=True,
                                      stdout=True, stderr=True))
    with pytest.raises(NotFoundError):
        stack.client.exec(ExecRequest(container_id="0" * 64, cmd=("true",), stdout=True))
    with pytest.raises(NotFoundError):
        stack.client.port_forward(PortForwardRequest(pod_sandbox_id="0" * 64))


def test_session_cap_answers_429(stack: Stack) -> None:
    server = stack.extra_server(max_sessions=1)
    try:
        held = RemoteCommand(server.get_exec(ExecRequest(
            container_id=stack.main, cmd=("cat",), stdin=True, stdout=True)))
        try:
            url = server.get_exec(ExecRequest(container_id=stack.main, cmd=("true",),
                                              stdout=True))
            assert status_of(url, WS_HEADERS, "GET")[0] == 429
        finally:
            held.close_stdin()
            assert held.run(None, io.BytesIO(), io.BytesIO()) == 0
    finally:
        server.stop()


def test_pending_token_cap_is_resource_exhausted(stack: Stack) -> None:
    server = stack.extra_server(max_pending=2)
    try:
        request = ExecRequest(container_id=stack.main, cmd=("true",), stdout=True)
        server.get_exec(request)
        server.get_exec(request)
        with pytest.raises(ResourceExhaustedError, match="limit is 2"):
            server.get_exec(request)
    finally:
        server.stop()


def test_idle_session_is_closed(stack: Stack) -> None:
    server = stack.extra_server(idle_timeout=0.5)
    try:
        url = server.get_exec(ExecRequest(container_id=stack.main, cmd=("sleep", "30"),
                                          stdout=True))
        session = RemoteCommand(url)
        # Nothing flows, so the server ends the session; the iteration then stops by itself.
        assert [data for _, data in session.messages() if data] == []
    finally:
        server.stop()


# ---- many at once ------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["spdy", "websocket"])
def test_concurrent_crictl_execs_each_print_their_whole_output(
    stack: Stack, transport: str
) -> None:
    """``crictl exec`` (the streaming Exec, not ``-s``) as an operator runs it, eight at once.
    A short exec's output comes right behind the engine's upgrade answer: a copy that reads the
    bare hijacked socket loses it at times (a clean-clone CI run saw one such loss)."""

    def one(i: int) -> tuple[int, str, str]:
        done = crictl(stack.cri.address, "exec", "--transport", transport, stack.main,
                      "sh", "-c", f"echo line-{i}; exit {i % 3}", check=False)
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    for i, (code, out, err) in enumerate(results):
        # crictl exits 1 for any failed command and names the command's own code (as with
        # containerd).
        assert (code, out) == (min(i % 3, 1), f"line-{i}\n"), (i, err)
        assert i % 3 == 0 or f"command terminated with exit code {i % 3}" in err, (i, err)



def test_many_concurrent_sessions_both_protocols(stack: Stack) -> None:
    results: dict[int, object] = {}

    def ws(i: int) -> None:
        out = io.BytesIO()
        code = RemoteCommand(stack.exec_url("sh", "-c", f"echo ws-{i}; exit {i % 3}")).run(
            None, out, io.BytesIO())
        results[i] = (code, out.getvalue())

    def spdy(i: int) -> None:
        out, _, status = run_exec(stack.exec_url("sh", "-c", f"echo spdy-{i}", stderr=True))
        results[i] = (json.loads(status)["status"], out)

    threads = [threading.Thread(target=ws if i % 2 else spdy, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for i in range(24):
        expected = (i % 3, f"ws-{i}\n".encode()) if i % 2 else ("Success", f"spdy-{i}\n".encode())
        assert results.get(i) == expected, i
    # Server-side ends trail the clients' a little (and earlier tests' sessions may linger).
    assert _sessions_drain(stack)
