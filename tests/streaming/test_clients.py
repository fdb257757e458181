"""Real clients against the streaming server: kubectl (Go's SPDY and WebSocket
implementations) through a stand-in API server, ``kubert exec`` and ``kubert port-forward``
as a user runs them, and TLS."""

from __future__ import annotations

import io
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubert.model import AttachRequest, ExecRequest, PortForwardRequest
from kubert.streaming.client import RemoteCommand
from tests.fixtures.polling import eventually
from tests.streaming.apiproxy import ApiProxy, requests_for
from tests.streaming.harness import ECHO_PORT, Stack
from tests.streaming.spdyclient import SpdyClient

pytestmark = pytest.mark.docker

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def kubeconfig(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    containers = {"main": stack.main, "console": stack.console}
    build = requests_for(containers, stack.sandbox_id)

    def url_for(kind: str, query: dict[str, list[str]]) -> str:
        request = build(kind, query)
        if isinstance(request, ExecRequest):
            return stack.client.exec(request)
        if isinstance(request, AttachRequest):
            return stack.client.attach(request)
        assert isinstance(request, PortForwardRequest)
        return stack.client.port_forward(request)

    proxy = ApiProxy(url_for, tuple(containers))
    path = tmp_path / "kubeconfig"
    path.write_text(proxy.kubeconfig())
    yield path
    proxy.close()


def kubectl_env(kubeconfig: Path, websockets: bool) -> dict[str, str]:
    flag = "true" if websockets else "false"
    return dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(kubeconfig.parent),
                KUBECTL_REMOTE_COMMAND_WEBSOCKETS=flag, KUBECTL_PORT_FORWARD_WEBSOCKETS=flag)


@needs_kubectl
@pytest.mark.parametrize("websockets", [False, True], ids=["spdy", "websocket"])
def test_kubectl_exec(kubeconfig: Path, websockets: bool) -> None:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "exec", "-i", "pod", "--", "sh", "-c", "cat; echo oops >&2; exit 3"],
        input=b"through kubectl\n", env=kubectl_env(kubeconfig, websockets),
        capture_output=True, timeout=60, check=False,
    )
    assert result.stdout == b"through kubectl\n"
    assert b"oops\n" in result.stderr
    # kubectl turns the NonZeroExitCode status into its own exit code.
    assert result.returncode == 3, result.stderr


@needs_kubectl
@pytest.mark.parametrize("websockets", [False, True], ids=["spdy", "websocket"])
def test_kubectl_attach(kubeconfig: Path, websockets: bool) -> None:
    assert KUBECTL is not None
    proc = subprocess.Popen(
        [KUBECTL, "attach", "-i", "pod", "-c", "console"],
        env=kubectl_env(kubeconfig, websockets),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"from kubectl\n")
        proc.stdin.flush()
        # kubectl holds the line until its streams are up; the server attaches before it
        # starts copying stdin, so the main process reads it and answers on stdout.
        assert proc.stdout.readline() == b"got:from kubectl\n"
    finally:
        proc.kill()
        proc.wait(10)


@needs_kubectl
def test_kubectl_port_forward_spdy(kubeconfig: Path) -> None:
    assert KUBECTL is not None
    local = _free_port()
    proc = subprocess.Popen(
        [KUBECTL, "port-forward", "pod", f"{local}:{ECHO_PORT}"],
        env=kubectl_env(kubeconfig, websockets=False),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert b"Forwarding from 127.0.0.1" in proc.stdout.readline()
        payload = os.urandom(100_000)
        with socket.create_connection(("127.0.0.1", local), timeout=30) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := conn.recv(65536):
                got += chunk
        assert got == payload
    finally:
        proc.terminate()
        proc.wait(10)


# ---- kubert's own commands ---------------------------------------------------------------


def test_kubert_exec_command(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from kubert.cli import main; main()", "exec", "-r",
         stack.cri.address, "-i", "-c", "main", "stream", "--", "sh", "-c",
         "tr a-z A-Z; echo to-stderr >&2; exit 4"],
        input=b"shout\n", capture_output=True, timeout=60, check=False,
    )
    assert (result.returncode, result.stdout) == (4, b"SHOUT\n"), result.stderr
    assert result.stderr == b"to-stderr\n"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_kubert_exec_interactive_terminal(stack: Stack) -> None:
    """``kubert exec -it`` in a real terminal (tmux): raw mode, its size, SIGWINCH."""
    server = f"kubert-test-{os.getpid()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", server, *args], check=True, capture_output=True,
                              timeout=30).stdout.decode()

    def screen_shows(text: str) -> str:
        screen = eventually(lambda: tmux("capture-pane", "-p", "-t", "t"),
                            lambda shown: text in shown, timeout=30, interval=0.1)
        assert text in screen, screen
        return screen

    command = (f"{sys.executable} -c 'from kubert.cli import main; main()' exec "
               f"-r {stack.cri.address} -it -c main stream -- sh; echo EXIT=$?; sleep 60")
    tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "sh", "-c", command)
    try:
        screen_shows("/ #")
        tmux("send-keys", "-t", "t", "echo SIZE=$(stty size | tr ' ' x)", "Enter")
        screen_shows("SIZE=40x120")
        tmux("resize-window", "-t", "t", "-x", "90", "-y", "30")
        tmux("send-keys", "-t", "t", "until [ \"$(stty size)\" = '30 90' ]; do sleep 0.1; done;"
             " echo RESIZED; exit 6", "Enter")
        screen = screen_shows("EXIT=")
        assert "RESIZED" in screen and "EXIT=6" in screen
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], check=False, timeout=30)


def test_kubert_exec_explains_a_missing_pod(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from kubert.cli import main; main()", "exec", "-r",
         stack.cri.address, "nosuchpod", "--", "true"],
        capture_output=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert b"no ready pod named 'nosuchpod'" in result.stderr


def test_kubert_port_forward_command(stack: Stack) -> None:
    local = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kubert.cli import main; main()", "port-forward", "-r",
         stack.cri.address, "stream", f"{local}:{ECHO_PORT}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"Forwarding from 127.0.0.1:")
        for round_trip in range(3):
            with socket.create_connection(("127.0.0.1", local), timeout=30) as conn:
                line = f"round trip {round_trip}\n".encode()
                conn.sendall(line)
                got = b""
                while not got.endswith(b"\n"):
                    got += conn.recv(4096)
                assert got == line
    finally:
        proc.terminate()
        proc.wait(10)


# ---- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def test_tls_streaming_server_both_protocols(stack: Stack, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server = stack.extra_server(tls_cert_file=str(cert), tls_key_file=str(key))
    try:
        assert server.base_url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert))
        request = ExecRequest(container_id=stack.main, cmd=("echo", "secure"), stdout=True)
        out = io.BytesIO()
        assert RemoteCommand(server.get_exec(request), trust).run(None, out, io.BytesIO()) == 0
        assert out.getvalue() == b"secure\n"
        client = SpdyClient(server.get_exec(request), ["v4.channel.k8s.io"], tls=trust)
        try:
            client.open(streamtype="error")
            stdout = client.open(streamtype="stdout")
            assert stdout.read_all() == b"secure\n"
        finally:
            client.close()
        # A client that does not trust the certificate gets nowhere.
        with pytest.raises(ssl.SSLCertVerificationError):
            RemoteCommand(server.get_exec(request), ssl.create_default_context())
    finally:
        server.stop()


def test_kubert_serve_runs_the_streaming_server(tmp_path: Path, docker_engine: object) -> None:
    """``kubert serve`` with its flags: the Exec URL it hands out points at its own server."""
    sock = Path("/tmp") / f"kubert-serve-{os.getpid()}-{time.time_ns()}.sock"
    port = _free_port()
    env = dict(os.environ, KUBERT_DISABLE_PLUGIN_AUTOLOAD="0")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from kubert.cli import main; main()", "serve",
         "--container-runtime-endpoint", f"unix://{sock}", "--root-directory", str(tmp_path),
         "--runtime", "docker", "--docker-endpoint", docker_engine.host,  # type: ignore[attr-defined]
         "--streaming-port", str(port), "--network-plugin", "noop"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        def created() -> bool:
            if sock.exists():
                return True
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            return False

        assert eventually(created, timeout=30, interval=0.1), (
            "kubert serve did not create its socket")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /exec/nosuchtoken HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                         b"Upgrade: websocket\r\n\r\n")
            assert conn.recv(100).startswith(b"HTTP/1.1 404")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
