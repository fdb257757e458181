"""kubert's own engine client: the lifecycle's calls against the real engine, its errors as
kubert's, and (against a fault-injecting server on a unix socket) the transport cases the real
engine does not produce on demand."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

import kubert
from kubert_docker.engine import Engine, translate
from kubert_docker.engineapi import (
    EngineAPI,
    EngineHTTPError,
    EngineUnreachable,
    engine_address,
)
from tests.fixtures.polling import eventually


@pytest.fixture
def engine(docker_engine: Any) -> Iterator[Engine]:
    connected = Engine(docker_engine.host)
    yield connected
    connected.close()


def test_lifecycle_calls_against_the_engine(engine: Engine, docker_engine: Any) -> None:
    api = engine.api()
    assert api.ping() is True
    server_api = str(engine.server_version()["ApiVersion"])
    assert api.api_version == min(server_api, "1.44", key=lambda v: tuple(map(int, v.split("."))))
    name = f"kubert-client-{threading.get_ident()}"
    body = {"Image": docker_engine.busybox, "Cmd": ["sleep", "60"], "Labels": {"t": name}}
    created = api.create_container_from_config(body, name)["Id"]
    try:
        api.start(created)
        assert api.inspect_container(created)["State"]["Running"] is True
        listed = api.containers(all=True, filters={"label": f"t={name}"})
        assert [c["Id"] for c in listed] == [created]
        api.stop(created, timeout=0)
        assert api.inspect_container(created)["State"]["Running"] is False
    finally:
        api.remove_container(created, v=True, force=True)
    with pytest.raises(kubert.NotFoundError), translate("container", created):
        api.inspect_container(created)


def test_a_stop_with_no_grace_is_one_kill_that_waits_for_the_exit(
    engine: Engine, docker_engine: Any
) -> None:
    """``sleep`` as PID 1 ignores SIGTERM, so only a SIGKILL ends it: the stop answers once
    the container is down (137), and a second stop of the exited container is no error."""
    api = engine.api()
    name = f"kubert-kill-{threading.get_ident()}"
    body = {"Image": docker_engine.busybox, "Cmd": ["sleep", "60"]}
    created = api.create_container_from_config(body, name)["Id"]
    try:
        api.start(created)
        api.stop(created, timeout=0)
        state = api.inspect_container(created)["State"]
        assert (state["Running"], state["ExitCode"]) == (False, 137)
        api.stop(created, timeout=0)  # not running: nothing to do, as the engine's own stop
        with pytest.raises(kubert.NotFoundError), translate("container", "gone"):
            api.stop("kubert-no-such-container", timeout=0)
    finally:
        api.remove_container(created, v=True, force=True)


def test_engine_refusals_become_kuberts_errors(engine: Engine, docker_engine: Any) -> None:
    api = engine.api()
    name = f"kubert-twice-{threading.get_ident()}"
    first = api.create_container_from_config({"Image": docker_engine.busybox}, name)["Id"]
    try:
        with (
            pytest.raises(kubert.AlreadyExistsError, match="already in use"),
            translate("container", name),
        ):
            api.create_container_from_config({"Image": docker_engine.busybox}, name)
        with (
            pytest.raises(kubert.InvalidArgumentError, match="the engine refused it"),
            translate("container", "bad"),
        ):
            api.create_container_from_config({"Image": docker_engine.busybox}, "/bad name/")
        with pytest.raises(kubert.NotFoundError), translate("image", "absent"):
            api.inspect_image("kubert-test/absent:never")
        with pytest.raises(kubert.NotFoundError), translate("container", ""):
            api.inspect_container("")
    finally:
        api.remove_container(first, force=True)


def test_events_follow_and_close_from_another_thread(engine: Engine, docker_engine: Any) -> None:
    api = engine.api()
    stream = api.events(filters={"type": ["container"]})
    seen: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    reader.start()
    created = api.create_container_from_config({"Image": docker_engine.busybox}, "")["Id"]
    api.remove_container(created, force=True)
    eventually(lambda: [e.get("Action") for e in seen if e.get("id") == created],
               good=lambda actions: actions == ["create", "destroy"])
    stream.close()
    reader.join(timeout=10)
    assert not reader.is_alive(), "close() must end the iteration"


def test_unreachable_engine_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(kubert.UnavailableError, match="cannot reach the engine"):
        Engine(f"unix://{tmp_path / 'absent.sock'}").api()
    api = EngineAPI(f"unix://{tmp_path / 'absent.sock'}", "1.41")
    unreachable = pytest.raises(kubert.UnavailableError, match="cannot reach the engine")
    with unreachable, translate("x", "y"):
        api.ping()


def test_an_endpoint_of_another_scheme_is_refused_clearly() -> None:
    with pytest.raises(kubert.UnavailableError, match="unix:// or tcp://"):
        Engine("ssh://user@host").api()


@pytest.mark.parametrize(("endpoint", "address"), [
    ("unix:///run/docker.sock", "/run/docker.sock"),
    ("unix://localhost/run/docker.sock", "/run/docker.sock"),
    ("unix://run/docker.sock", "run/docker.sock"),
    ("tcp://127.0.0.1:2376", ("127.0.0.1", 2376)),
    ("http://127.0.0.1", ("127.0.0.1", 2375)),
])
def test_engine_endpoints_are_read_once_for_every_client(
    endpoint: str, address: Any
) -> None:
    # The API client and the log follower both connect through engine_address.
    assert engine_address(endpoint) == address


def test_the_idle_server_imports_no_sdk(docker_engine: Any) -> None:
    """The lifecycle's calls and the event stream need neither the SDK nor requests."""
    script = (
        "import sys\n"
        "from kubert_docker.engine import Engine\n"
        f"api = Engine({docker_engine.host!r}).api()\n"
        "api.ping(); api.info(); api.containers(all=True)\n"
        "stream = api.events(); stream.close()\n"
        "print(sorted(m for m in ('docker', 'requests', 'urllib3') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"


# ---- transport faults, injected: a scripted HTTP server on a unix socket ------------------


class ScriptedServer:
    """Answers requests from ``answers`` (raw bytes per request, in order, whatever the
    connection): ``None`` closes the connection at once, as an engine closing an idle
    keep-alive connection does; ``b""`` reads the next request and closes without answering.
    Counts connections."""

    def __init__(self, path: Path, answers: list[bytes | None]) -> None:
        self.path = path
        self.answers = list(answers)
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buffered = b""
            while self.answers:
                if self.answers[0] is None:
                    self.answers.pop(0)
                    return
                while b"\r\n\r\n" not in buffered:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                # The body too, as the engine reads it: http.client sends it in a write of its
                # own, and a socket closed with it unread resets the client's connection.
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buffered) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                buffered = buffered[length:]
                answer = self.answers.pop(0)
                if not answer:
                    return
                conn.sendall(answer)

    def close(self) -> None:
        self.listener.close()


def _json_answer(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.mark.parametrize("close", [None, b""], ids=["while-idle", "as-the-request-came"])
def test_a_pooled_connection_closed_by_the_engine_is_replaced(
    tmp_path: Path, close: bytes | None
) -> None:
    """The engine closes idle keep-alive connections; the next call must not fail for it,
    whether the close is seen before sending or only as the missing answer."""
    server = ScriptedServer(tmp_path / "s.sock", [_json_answer(b"{}"), close, _json_answer(b"[]")])
    try:
        api = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41")
        assert api.info() == {}
        if close is None:
            eventually(lambda: len(server.answers), good=lambda left: left == 1)
        assert api.containers() == []
        assert server.connections == 2
    finally:
        server.close()


def test_an_engine_error_answer_keeps_its_message(tmp_path: Path) -> None:
    answer = _json_answer(b'{"message":"conflict: it is busy"}', "409 Conflict")
    server = ScriptedServer(tmp_path / "s.sock", [answer])
    try:
        api = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41")
        with pytest.raises(EngineHTTPError) as raised:
            api.start("abc")
        assert (raised.value.status, raised.value.explanation) == (409, "conflict: it is busy")
    finally:
        server.close()


def test_event_chunks_split_anywhere_are_read_whole(tmp_path: Path) -> None:
    """Events split across chunks, two in one chunk, then the stream's end."""
    events = [b'{"Action":"create","id":"a"}\n', b'{"Action":"start","id":"a"}\n']
    joined = b"".join(events)
    chunks = [joined[:7], joined[7:40], joined[40:]]
    body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = ScriptedServer(tmp_path / "s.sock", [head + body])
    try:
        stream = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41").events()
        assert [e["Action"] for e in stream] == ["create", "start"]
    finally:
        server.close()


def test_an_event_stream_cut_mid_chunk_is_unreachable(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = ScriptedServer(tmp_path / "s.sock", [head + b"zz\r\n"])
    try:
        stream = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41").events()
        with pytest.raises(EngineUnreachable, match="event stream broke"):
            list(stream)
    finally:
        server.close()


def test_exec_output_frames_are_demultiplexed(tmp_path: Path) -> None:
    """The engine's 8-byte frame headers, stdout and stderr interleaved, a frame split across
    reads, then the end of the stream when the exec ends."""
    frames = b"".join(
        bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data
        for stream, data in ((1, b"out-1\n"), (2, b"err-1\n"), (1, b"x" * 70000))
    )
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    server = ScriptedServer(tmp_path / "s.sock", [head + frames])
    try:
        output = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41").exec_output("abc")
        got = list(output)
        assert got[:2] == [(1, b"out-1\n"), (2, b"err-1\n")]
        assert got[2] == (1, b"x" * 70000)
    finally:
        server.close()


def test_exec_sync_through_the_client(engine: Engine, docker_engine: Any) -> None:
    from kubert_docker.execsync import exec_sync

    api = engine.api()
    created = api.create_container_from_config(
        {"Image": docker_engine.busybox, "Cmd": ["sleep", "60"]}, ""
    )["Id"]
    try:
        api.start(created)
        done = exec_sync(engine, created, ["sh", "-c", "echo out; echo err >&2; exit 3"], 10,
                         1 << 20)
        assert (done.stdout, done.stderr, done.exit_code) == (b"out\n", b"err\n", 3)
        with pytest.raises(kubert.DeadlineExceededError):
            exec_sync(engine, created, ["sleep", "30"], 1, 1 << 20)
    finally:
        api.remove_container(created, force=True)


def test_output_sent_with_the_upgrade_answer_is_kept(tmp_path: Path) -> None:
    """A short exec's output can arrive in the same segment as the engine's 101 answer: it
    must be read from the answer's buffer (the docker SDK's hijacked socket lost it)."""
    from kubert_docker.streams import EngineStream

    frame = bytes([1, 0, 0, 0]) + (6).to_bytes(4, "big") + b"ws-17\n"
    head = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    server = ScriptedServer(tmp_path / "s.sock", [head + frame])  # one write: head and output
    try:
        conn = EngineAPI(f"unix://{tmp_path / 's.sock'}", "1.41").exec_attach("abc", tty=False)
        stream = EngineStream(cast(Any, None), conn, tty=False, exec_id="abc")
        assert stream.read() == (1, b"ws-17\n")
        assert stream.read() is None  # the engine closed the connection: the output ended
        stream.close()
    finally:
        server.close()

