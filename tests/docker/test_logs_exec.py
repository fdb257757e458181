"""CRI log files, ReopenContainerLog and ExecSync on the real engine."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

import kubert
from tests.fixtures.docker_helpers import PodMaker, make_runtime
from tests.fixtures.polling import eventually

pytestmark = pytest.mark.docker

_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) (P|F) (.*)$")


def _parse(path: str) -> list[tuple[bytes, bytes, bytes]]:
    lines = []
    for raw in Path(path).read_bytes().splitlines():
        match = _LINE.match(raw)
        assert match, raw
        lines.append((match.group(1), match.group(2), match.group(3)))
    return lines


def test_log_file_is_cri_format_with_streams_and_partial_lines(pods: Any) -> None:
    script = (
        "echo first; echo oops >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; echo last"
    )
    cid = pods.run("sh", "-c", script)
    status = eventually(lambda: (s := pods.runtime.container_status(cid)).state
                        == kubert.ContainerState.CONTAINER_EXITED and s, timeout=10, interval=0.02)
    # The copier has drained by the time the exit is reported.
    lines = _parse(status.log_path)
    # The two streams are separate pipes: their relative order is not defined.
    assert [line for line in lines if line[0] == b"stderr"] == [(b"stderr", b"F", b"oops")]
    lines = [line for line in lines if line[0] == b"stdout"]
    assert lines[0] == (b"stdout", b"F", b"first")
    long_parts = [text for stream, tag, text in lines if set(text) == {ord("x")}]
    tags = [tag for stream, tag, text in lines if set(text) == {ord("x")}]
    assert b"".join(long_parts) == b"x" * 20000
    assert tags[-1] == b"F" and set(tags[:-1]) <= {b"P"} and len(tags) >= 2
    assert lines[-1] == (b"stdout", b"F", b"last")


def test_a_last_line_without_newline_is_a_full_line(pods: Any) -> None:
    """What a process writes last without a newline is a whole line (F, as containerd writes
    it), else a reader that joins P parts up to their F, like ``kubert logs``, never shows it."""
    cid = pods.run("sh", "-c", "printf 'one\\ntwo'; printf 'oops' >&2")
    status = eventually(lambda: (s := pods.runtime.container_status(cid)).state
                        == kubert.ContainerState.CONTAINER_EXITED and s, timeout=10, interval=0.02)
    lines = _parse(status.log_path)
    assert [line for line in lines if line[0] == b"stdout"] == [
        (b"stdout", b"F", b"one"), (b"stdout", b"F", b"two")
    ]
    assert [line for line in lines if line[0] == b"stderr"] == [(b"stderr", b"F", b"oops")]


def test_a_second_container_on_the_same_log_path_appends(pods: Any) -> None:
    """A client that reuses a log path (crictl users do; containerd appends) gets both
    containers' lines; the second one's are not taken for an earlier copy of its own."""
    sandbox_id = pods.sandbox()
    exited = kubert.ContainerState.CONTAINER_EXITED
    lines = []
    for n, word in enumerate(("first-container-line", "second-container-line-that-is-longer")):
        cid = pods.container(
            sandbox_id, "sh", "-c", f"echo {word}", name=f"c{n}", log_path="same.log"
        )
        status = eventually(lambda c=cid: (s := pods.runtime.container_status(c)).state
                            == exited and s, timeout=10, interval=0.02)
        lines = _parse(status.log_path)
    assert lines == [
        (b"stdout", b"F", b"first-container-line"),
        (b"stdout", b"F", b"second-container-line-that-is-longer"),
    ]


def test_reopen_after_rotation_loses_no_lines(pods: Any) -> None:
    cid = pods.run("sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; i=$((i+1)); "
                   "sleep 0.005; done")
    log_path = pods.runtime.container_status(cid).log_path
    assert eventually(lambda: Path(log_path).exists() and Path(log_path).stat().st_size > 0,
                      timeout=10, interval=0.02)
    rotated = log_path + ".1"
    Path(log_path).rename(rotated)
    pods.runtime.reopen_container_log(cid)
    eventually(lambda: pods.runtime.container_status(cid).state
               == kubert.ContainerState.CONTAINER_EXITED, timeout=20, interval=0.02)
    texts = [t for _, _, t in _parse(rotated) + _parse(log_path)]
    assert texts == [f"line-{i}".encode() for i in range(400)]
    assert _parse(log_path), "nothing was written after the reopen"


def test_reopen_of_an_exited_container_is_failed_precondition(pods: Any) -> None:
    cid = pods.run("true")
    eventually(lambda: pods.runtime.container_status(cid).state
               == kubert.ContainerState.CONTAINER_EXITED, timeout=10, interval=0.02)
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.reopen_container_log(cid)


def test_a_new_runtime_resumes_copying_without_repeating(
    docker_engine: Any, tmp_path: Path
) -> None:
    """A kubert restart (a new backend on the same root and engine) neither loses nor repeats."""
    first = make_runtime(docker_engine, tmp_path / "root")
    maker = PodMaker(first, docker_engine, tmp_path / "logs")
    cid = maker.run("sh", "-c", "echo before; sleep 1; echo after; sleep 60")
    log_path = first.container_status(cid).log_path
    assert eventually(lambda: b"before" in Path(log_path).read_bytes(), timeout=10, interval=0.02)
    first.close()
    second = make_runtime(docker_engine, tmp_path / "root")
    maker.runtime = second
    try:
        assert eventually(lambda: b"after" in Path(log_path).read_bytes(), timeout=10,
                          interval=0.02)
        assert [t for _, _, t in _parse(log_path)] == [b"before", b"after"]
    finally:
        maker.cleanup()
        second.close()


def test_exec_sync_output_and_exact_exit_code(pods: Any) -> None:
    cid = pods.run("sleep", "60")
    result = pods.runtime.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 42"], 10)
    assert result == kubert.ExecSyncResult(stdout=b"out\n", stderr=b"err\n", exit_code=42)


def test_exec_sync_deadline_kills_the_process(pods: Any) -> None:
    cid = pods.run("sleep", "60")
    started = time.monotonic()
    with pytest.raises(kubert.DeadlineExceededError):
        pods.runtime.exec_sync(cid, ["sh", "-c", "echo $$ > /tmp/exec.pid; exec sleep 300"], 1)
    assert time.monotonic() - started < 30
    pid = pods.exec(cid, "cat /tmp/exec.pid").strip()
    assert eventually(lambda: pods.runtime.exec_sync(
        cid, ["sh", "-c", f"[ -d /proc/{pid} ] && echo alive || echo gone"], 10
    ).stdout == b"gone\n", timeout=5, interval=0.02)


def test_exec_sync_output_is_capped(docker_engine: Any, tmp_path: Path) -> None:
    runtime = make_runtime(docker_engine, tmp_path / "root", exec_output_limit=1000)
    pods = PodMaker(runtime, docker_engine, tmp_path / "logs")
    try:
        cid = pods.run("sleep", "60")
        result = runtime.exec_sync(cid, ["sh", "-c", "head -c 50000 /dev/zero; exit 3"], 10)
        assert result.stdout == b"\0" * 1000 and result.exit_code == 3
    finally:
        pods.cleanup()
        runtime.close()


def test_exec_in_exited_container_is_failed_precondition(pods: Any) -> None:
    cid = pods.run("true")
    eventually(lambda: pods.runtime.container_status(cid).state
               == kubert.ContainerState.CONTAINER_EXITED, timeout=10, interval=0.02)
    with pytest.raises(kubert.FailedPreconditionError):
        pods.runtime.exec_sync(cid, ["true"], 5)
