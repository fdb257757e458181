"""CRI container logs lose, repeat and reorder nothing on the real engine.

Every case counts the lines of the CRI file and checks their order line by line against what
the container wrote: a fast writer, lines over 16 KiB (P/F parts), frequent engine rotation,
the exit, ReopenContainerLog under load, kubert SIGKILLed and restarted, the engine restarted,
stdout and stderr interleaved; and the copy's thread count does not grow with the containers.
The heavy variants run with --run-slow.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kubert
from kubert.cri.client import CriClient
from kubert_docker.runtime import DockerRuntime
from kubert_docker.testing.engine import build_images, start_dockerd, stop_pid
from tests.fixtures.docker_helpers import PodMaker, make_runtime
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker

_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (P|F) (.*)$")
EXITED = kubert.ContainerState.CONTAINER_EXITED


def cri_lines(*paths: str | Path) -> list[tuple[bytes, bytes, bytes]]:
    """(stream, tag, text) of every line of the CRI files, in order; each must be well formed."""
    lines = []
    for path in paths:
        for raw in Path(path).read_bytes().split(b"\n")[:-1]:
            match = _LINE.match(raw)
            assert match, f"malformed CRI line in {path}: {raw[:200]!r}"
            lines.append((match.group(1), match.group(2), match.group(3)))
    return lines


def joined(
    lines: list[tuple[bytes, bytes, bytes]], stream: bytes = b"stdout", torn_end: bool = False
) -> list[bytes]:
    """The complete lines of one stream: P parts joined up to their F; with ``torn_end`` a
    last line cut off by the writer's death (its parts, never ended by an F) is the last."""
    out: list[bytes] = []
    parts: list[bytes] = []
    for kind, tag, text in lines:
        if kind != stream:
            continue
        parts.append(text)
        if tag == b"F":
            out.append(b"".join(parts))
            parts = []
    if torn_end and parts:
        return [*out, b"".join(parts)]
    assert not parts, f"{stream!r} ends in a partial line"
    return out


def assert_sequence(texts: list[bytes], expected: list[bytes]) -> None:
    """Equal line by line; on failure say where the first difference is, not 10**6 lines."""
    if texts == expected:
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(texts, expected, strict=False)) if a != b),
        min(len(texts), len(expected)),
    )
    pytest.fail(
        f"{len(texts)} lines, expected {len(expected)}; first difference at line {first}: "
        f"{texts[first : first + 3]!r} instead of {expected[first : first + 3]!r}"
    )


def numbers(first: int, last: int, prefix: str = "") -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in range(first, last + 1)]


def bursts(total: int, burst: int, pause: float) -> str:
    """A shell writer of 1..total: bursts of ``burst`` lines as fast as the engine takes them,
    ``pause`` seconds apart (so that a test can act while it writes)."""
    return (
        f"i=0; while [ $i -lt {total // burst} ]; do seq $((i*{burst}+1)) "
        f"$((i*{burst}+{burst})); i=$((i+1)); sleep {pause}; done"
    )


def wait_exited(status: Callable[[], kubert.ContainerStatus], seconds: float = 120) -> Any:
    found = eventually(
        lambda: (s := status()).state == EXITED and s, timeout=seconds, interval=0.02
    )
    assert found, "the container did not exit"
    return found


@contextlib.contextmanager
def own_runtime(engine: Any, root: Path, **options: Any) -> Iterator[PodMaker]:
    """A backend of its own (with ``options``) and a pod maker on it; all removed afterwards."""
    runtime = make_runtime(engine, root / "root", **options)
    maker = PodMaker(runtime, engine, root / "logs")
    try:
        yield maker
    finally:
        maker.cleanup()
        runtime.close()


FAST_LINES = [200_000, pytest.param(1_000_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("count", FAST_LINES)
def test_fast_writer_every_line_in_order_once_the_exit_is_reported(
    pods: PodMaker, count: int
) -> None:
    """``seq`` as fast as the engine takes it (1M lines cross the engine's 50 MB rotation)."""
    cid = pods.run("seq", "1", str(count))
    status = wait_exited(lambda: pods.runtime.container_status(cid))
    # Read at the first status that says EXITED: the copy drained before that answer.
    lines = cri_lines(status.log_path)
    assert {tag for _, tag, _ in lines} == {b"F"}
    assert_sequence(joined(lines), numbers(1, count))


def test_lines_over_16k_are_partial_parts_ending_in_a_full_one(pods: PodMaker) -> None:
    script = (
        "i=0; while [ $i -lt 200 ]; do printf '%05d' $i; "
        "head -c 40000 /dev/zero | tr '\\0' x; echo; i=$((i+1)); done"
    )
    cid = pods.run("sh", "-c", script)
    lines = cri_lines(wait_exited(lambda: pods.runtime.container_status(cid)).log_path)
    assert_sequence(joined(lines), [f"{i:05d}".encode() + b"x" * 40000 for i in range(200)])
    tags = b"".join(tag for _, tag, _ in lines)
    # Every line is split by the engine's 16 KiB buffer: at least two P parts, then an F.
    assert re.fullmatch(rb"(PP+F){200}", tags), tags[:40]
    assert max(len(text) for _, _, text in lines) <= 16 * 1024


ROTATING = [200_000, pytest.param(1_000_000, marks=pytest.mark.slow)]


@pytest.mark.parametrize("count", ROTATING)
def test_frequent_engine_rotation_loses_nothing(
    docker_engine: Any, tmp_path: Path, count: int
) -> None:
    """A 1 MiB max-size makes the engine rotate every ~13,000 lines and delete its oldest
    file: the CRI file still holds every line, though the engine's files do not. kubert must
    notice each file before the engine deletes it, i.e. within max-size x max-files of output
    (10 MiB here: ~0.3 s of this writer, room for a loaded CI machine's scheduling delays)."""
    with own_runtime(docker_engine, tmp_path, log_max_size="1m", log_max_files=10) as pods:
        cid = pods.run("seq", "1", str(count))
        status = wait_exited(lambda: pods.runtime.container_status(cid))
        assert_sequence(joined(cri_lines(status.log_path)), numbers(1, count))
        engine_dir = docker_engine.data_root / "containers" / cid
        oldest = sorted(engine_dir.glob(f"{cid}-json.log*"))[-1]
        first = json.loads(oldest.read_bytes().split(b"\n", 1)[0])["log"]
        assert first != "1\n", "the engine did not rotate; the test proves nothing"


@pytest.mark.parametrize(("path", "count"), [("files", 300_000), ("api", 60_000)])
def test_reopen_while_writing_hard(
    pods: PodMaker, path: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``api``, the fault injected is the engine's files being unreachable (its API is
    slower than the files, hence fewer lines)."""
    if path == "api":
        monkeypatch.setattr("kubert_docker.logcopy.engine_log_path", lambda record, root: None)
    cid = pods.run("sh", "-c", bursts(count, 2000, 0.01))
    log_path = pods.runtime.container_status(cid).log_path
    rotated: list[str] = []
    while pods.runtime.container_status(cid).state != EXITED:
        if not Path(log_path).exists():
            time.sleep(0.01)
            continue
        name = f"{log_path}.{len(rotated)}"
        Path(log_path).rename(name)
        rotated.append(name)
        with contextlib.suppress(kubert.FailedPreconditionError):  # it exited meanwhile
            pods.runtime.reopen_container_log(cid)
        time.sleep(0.05)
    assert len(rotated) >= 5, "the writer ended before the test could reopen while it wrote"
    if path == "api":
        # The engine's API streams slower than this writer writes: the exit is reported
        # after the two-second drain, and the rest follows (see docs/docker.md).
        assert eventually(lambda: pods.runtime.logs.api.get(cid) is None, timeout=60, interval=0.02)
    files = [*rotated, log_path] if Path(log_path).exists() else rotated
    assert_sequence(joined(cri_lines(*files)), numbers(1, count))


def test_stdout_and_stderr_interleaved(pods: PodMaker) -> None:
    script = "i=0; while [ $i -lt 20000 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done"
    cid = pods.run("sh", "-c", script)
    lines = cri_lines(wait_exited(lambda: pods.runtime.container_status(cid)).log_path)
    assert_sequence(joined(lines, b"stdout"), numbers(0, 19999, "o"))
    assert_sequence(joined(lines, b"stderr"), numbers(0, 19999, "e"))
    switches = sum(1 for a, b in itertools.pairwise(lines) if a[0] != b[0])
    assert switches > 1, "the streams were not interleaved in the file"


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_copy_threads_do_not_grow_with_containers(docker_engine: Any, tmp_path: Path) -> None:
    writer = "i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.05; done"
    with own_runtime(docker_engine, tmp_path) as pods:
        first = pods.run("sh", "-c", writer)
        path = pods.runtime.container_status(first).log_path
        assert eventually(
            lambda: Path(path).exists() and Path(path).stat().st_size > 0, timeout=10, interval=0.02
        )
        with_one = _threads()
        names_with_one = sorted(t.name for t in threading.enumerate())
        # In one sandbox: the threads of twenty containers are counted, not of twenty pods.
        sandbox = pods.sandbox()
        others = [pods.container(sandbox, "sh", "-c", writer, name=f"c{i}") for i in range(19)]
        paths = [pods.runtime.container_status(cid).log_path for cid in others]
        assert eventually(
            lambda: all(Path(p).exists() and Path(p).stat().st_size > 0 for p in paths),
            timeout=30,
            interval=0.02,
        )
        assert _threads() == with_one
        assert sorted(t.name for t in threading.enumerate()) == names_with_one


# ---- kubert killed; the engine restarted -------------------------------------------------


class KubertServe:
    """``kubert serve`` (docker runtime, noop network) as a child process, SIGKILLed at will."""

    def __init__(self, workdir: Path, engine: Any, **docker_options: Any) -> None:
        self.workdir = workdir
        self.socket = workdir / "kubert.sock"
        self.log = workdir / "kubert.log"
        self.config = workdir / "kubert.toml"
        options = "".join(
            f"{key} = {json.dumps(value)}\n"
            for key, value in {**engine.backend_options(), **docker_options}.items()
        )
        self.config.write_text(
            f'container-runtime-endpoint = "unix://{self.socket}"\n'
            f'root-directory = "{workdir / "state"}"\n'
            'runtime = "docker"\nnetwork-plugin = "noop"\n'
            f'pod-infra-container-image = "{engine.pause}"\n'
            f"[backend.docker]\n{options}"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "KUBERT_DISABLE_PLUGIN_AUTOLOAD"
        }
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from kubert.cli import main; main()",
                    "serve",
                    "--config",
                    str(self.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if self.socket.exists():
                with contextlib.suppress(kubert.KubertError), self.client() as client:
                    client.status()
                    return
            time.sleep(0.1)
        raise AssertionError(f"kubert serve did not answer:\n{self.log.read_text()[-3000:]}")

    def client(self) -> CriClient:
        return CriClient.connect(f"unix://{self.socket}", timeout=10.0, call_timeout=60.0)

    def kill(self) -> None:
        """SIGKILL the server this test started (by its pid) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


KILLED = [(200_000, 2), pytest.param(1_000_000, 5, marks=pytest.mark.slow)]


@pytest.mark.parametrize(("count", "kills"), KILLED)
def test_kubert_sigkilled_and_restarted_mid_stream(
    docker_engine: Any, count: int, kills: int
) -> None:
    """Killed while it copies (rotating files, 4 MiB each), restarted from its checkpoints."""
    workdir = Path(tempfile.mkdtemp(prefix="kubert-logs-", dir="/tmp"))
    server = KubertServe(workdir, docker_engine, **{"log-max-size": "4m", "log-max-files": 4})
    server.start()
    sandbox_id = ""
    try:
        maker = PodMaker(None, docker_engine, workdir / "logs")  # type: ignore[arg-type]
        sandbox = maker.sandbox_config()
        with server.client() as client:
            sandbox_id = client.run_pod_sandbox(sandbox)
            config = maker.container_config("sh", "-c", bursts(count, 1000, 0.02))
            cid = client.create_container(sandbox_id, config, sandbox)
            client.start_container(cid)
            log_path = client.container_status(cid).log_path
        # Copied from the engine's files, not over the API: the copy keeps a checkpoint.
        assert eventually(
            lambda: list(workdir.glob(f"state/**/logs/{cid}.json")), timeout=10, interval=0.02
        )
        for kill in range(kills):
            # Kill at evenly spread points of the stream, each after a fresh copy began.
            target = count * (kill + 1) // (kills + 1)
            assert eventually(
                lambda t=target: _last_number(log_path) >= t, timeout=120, interval=0.02
            ), kill
            server.kill()
            server.start()
        with server.client() as client:
            status = wait_exited(lambda: client.container_status(cid), 180)
        assert_sequence(joined(cri_lines(status.log_path)), numbers(1, count))
    finally:
        with contextlib.suppress(Exception), server.client() as client:
            if sandbox_id:
                client.remove_pod_sandbox(sandbox_id)
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def _last_number(path: str) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(path, "rb") as fh:
            fh.seek(max(0, os.path.getsize(path) - 200))
            tail = fh.read().split(b"\n")
        return int(tail[-2].rsplit(b" ", 1)[1])
    return 0


def test_engine_restart_mid_stream(tmp_path: Path) -> None:
    """dockerd stopped while a container writes (it dies with the engine) and started again:
    the CRI file holds exactly what the engine logged."""
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("needs dockerd and root")
    root = Path(tempfile.mkdtemp(prefix="kubert-eng-", dir="/tmp"))
    engine = start_dockerd(root)
    runtime: DockerRuntime | None = None
    try:
        build_images(engine)
        runtime = make_runtime(engine, tmp_path / "root", log_max_size="500m")
        pods = PodMaker(runtime, engine, tmp_path / "logs")
        writer = "i=0; while :; do seq $((i*1000+1)) $((i*1000+1000)); i=$((i+1)); done"
        cid = pods.run("sh", "-c", writer)
        log_path = runtime.container_status(cid).log_path
        assert eventually(lambda: _last_number(log_path) >= 20_000, timeout=60, interval=0.02)
        stop_pid(engine.proc, 30)
        engine = start_dockerd(root)
        back = runtime

        def status() -> Any:
            # Until the backend has reconnected, it answers UNAVAILABLE.
            with contextlib.suppress(kubert.UnavailableError):
                return back.container_status(cid)
            return None

        assert eventually(
            lambda: (s := status()) is not None and s.state == EXITED, timeout=60, interval=0.02
        )
        assert eventually(lambda: not runtime.logs.shipper.copying(cid), timeout=30, interval=0.02)  # type: ignore[union-attr]
        client = engine.client()
        try:
            logged = client.api.logs(cid, stdout=True, stderr=True).split(b"\n")
        finally:
            client.close()
        if not logged[-1]:
            logged.pop()  # the output ended with a newline (seq was not cut mid-line)
        full = len(logged) - 1
        assert full > 20_000
        assert_sequence(logged[:full], numbers(1, full))
        assert_sequence(joined(cri_lines(log_path), torn_end=True), logged)
        pods.cleanup()
    finally:
        if runtime is not None:
            runtime.close()
        with contextlib.suppress(Exception):
            engine.remove_all_containers()
        stop_pid(engine.proc, 30)
        shutil.rmtree(root, ignore_errors=True)


def test_stale_checkpoint_and_a_kubelet_rotation_while_kubert_was_down(
    docker_engine: Any, tmp_path: Path
) -> None:
    """A kubert killed long after its last checkpoint, and the kubelet renaming the CRI file
    while it was down: the next kubert finds the renamed file by inode, skips exactly what it
    holds beyond the checkpoint, and writes the rest to the new file. (The stale checkpoint is
    put back by the test: that is the state a SIGKILL leaves.)"""
    first = make_runtime(docker_engine, tmp_path / "root")
    pods = PodMaker(first, docker_engine, tmp_path / "logs")
    cid = pods.run("sh", "-c", bursts(100_000, 1000, 0.02))
    log_path = first.container_status(cid).log_path
    checkpoint = tmp_path / "root" / "docker" / "logs" / f"{cid}.json"
    assert eventually(lambda: _last_number(log_path) >= 20_000, timeout=60, interval=0.02)
    stale = checkpoint.read_bytes()
    assert eventually(lambda: _last_number(log_path) >= 40_000, timeout=60, interval=0.02)
    first.close()
    checkpoint.write_bytes(stale)
    rotated = log_path + ".20261202-000000"
    Path(log_path).rename(rotated)
    second = make_runtime(docker_engine, tmp_path / "root")
    pods.runtime = second
    try:
        wait_exited(lambda: second.container_status(cid))
        assert_sequence(joined(cri_lines(rotated, log_path)), numbers(1, 100_000))
        assert _last_number(rotated) >= 40_000
    finally:
        pods.cleanup()
        second.close()


def test_api_fallback_where_the_engine_files_are_unreachable(
    docker_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected fault: kubert is told it cannot read the engine's files (as with a remote
    engine), so it follows the engine's log API instead, on one thread for all containers."""
    monkeypatch.setattr("kubert_docker.logcopy.engine_log_path", lambda record, root: None)
    long_line = "head -c 40000 /dev/zero | tr '\\0' x; echo"
    with own_runtime(docker_engine, tmp_path) as pods:
        cid = pods.run("sh", "-c", f"seq 1 20000; echo oops >&2; {long_line}; sleep 1")
        with_one = _threads()
        sandbox = pods.sandbox()
        others = [
            pods.container(sandbox, "sh", "-c", "seq 1 20000; sleep 1", name=f"c{i}")
            for i in range(5)
        ]
        assert _threads() == with_one
        status = wait_exited(lambda: pods.runtime.container_status(cid))
        lines = cri_lines(status.log_path)
        assert_sequence(joined(lines), [*numbers(1, 20_000), b"x" * 40000])
        assert joined(lines, b"stderr") == [b"oops"]
        assert not pods.runtime.logs.shipper.copying(cid)
        for other in others:
            status = wait_exited(lambda o=other: pods.runtime.container_status(o))
            assert_sequence(joined(cri_lines(status.log_path)), numbers(1, 20_000))


def test_checkpoints_of_containers_removed_while_kubert_was_down_are_dropped(
    docker_engine: Any, tmp_path: Path
) -> None:
    first = make_runtime(docker_engine, tmp_path / "root")
    pods = PodMaker(first, docker_engine, tmp_path / "logs")
    try:
        cid = pods.run("sh", "-c", "echo hello; sleep 60")
        checkpoint = tmp_path / "root" / "docker" / "logs" / f"{cid}.json"
        assert checkpoint.exists()
    finally:
        first.close()
    client = docker_engine.client()
    try:
        client.api.remove_container(cid, force=True)
    finally:
        client.close()
    second = make_runtime(docker_engine, tmp_path / "root")
    pods.runtime = second
    try:
        assert not checkpoint.exists()
    finally:
        pods.cleanup()
        second.close()


def test_tty_output_is_split_into_lines(pods: PodMaker) -> None:
    """A TTY has no message boundaries: the engine's reads are split at newlines (a read that
    ends inside a line is a P part), and the terminal's carriage returns are dropped."""
    cid = pods.run("seq", "1", "50000", tty=True)
    lines = cri_lines(wait_exited(lambda: pods.runtime.container_status(cid)).log_path)
    assert_sequence(joined(lines), numbers(1, 50_000))


@pytest.mark.slow
def test_a_hundred_megabytes_of_wide_lines_cross_the_engine_rotation(pods: PodMaker) -> None:
    """The issue's second case: 100 MB of 80-character lines (the engine rotates its 50 MB
    files several times meanwhile)."""
    count = 1_250_000
    cid = pods.run("awk", f'BEGIN {{ for (i = 1; i <= {count}; i++) printf "%079d\\n", i }}')
    status = wait_exited(lambda: pods.runtime.container_status(cid), 300)
    assert_sequence(joined(cri_lines(status.log_path)), [b"%079d" % i for i in range(1, count + 1)])


def test_a_log_directory_that_cannot_be_made_does_not_fail_the_start(
    pods: PodMaker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cid = pods.run("sh", "-c", "echo hi; sleep 60", sandbox={"log_directory": str(blocker / "pod")})
    assert pods.runtime.container_status(cid).state == kubert.ContainerState.CONTAINER_RUNNING
    assert "cannot copy the log of container" in caplog.text


def test_a_container_that_exited_while_kubert_was_down_is_complete_when_reported(
    docker_engine: Any, tmp_path: Path
) -> None:
    first = make_runtime(docker_engine, tmp_path / "root")
    pods = PodMaker(first, docker_engine, tmp_path / "logs")
    cid = pods.run("sh", "-c", bursts(100_000, 5000, 0.05))
    log_path = first.container_status(cid).log_path
    assert eventually(lambda: _last_number(log_path) >= 5000, timeout=60, interval=0.02)
    first.close()
    client = docker_engine.client()
    try:
        client.api.wait(cid, timeout=120)
    finally:
        client.close()
    assert _last_number(log_path) < 100_000, "the copy went on after close"
    second = make_runtime(docker_engine, tmp_path / "root")
    pods.runtime = second
    try:
        status = second.container_status(cid)
        assert status.state == EXITED
        assert_sequence(joined(cri_lines(log_path)), numbers(1, 100_000))
    finally:
        pods.cleanup()
        second.close()


def test_the_engine_holds_the_log_config_kubert_reads(pods: PodMaker, docker_engine: Any) -> None:
    cid = pods.run("true")
    client = docker_engine.client()
    try:
        host_config = client.api.inspect_container(cid)["HostConfig"]
    finally:
        client.close()
    assert host_config["LogConfig"] == pods.runtime.config.engine_log_config()
