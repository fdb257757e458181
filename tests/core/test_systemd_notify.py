"""Readiness and logs under systemd: ``NOTIFY_SOCKET`` messages and journal-format lines.

A real unix datagram socket stands in for systemd's notify socket and receives what a real
``kubert serve`` subprocess sends; its stderr is a pipe that ``JOURNAL_STREAM`` names, as
systemd names the journal's stream.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubert.systemd.journal import JournalFormatter, stderr_is_journal
from kubert.systemd.notify import Notifier

from .systemd_helpers import NotifyListener, memory_serve


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kubert-sn-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_serve_notifies_ready_status_watchdog_and_stopping(workdir: Path) -> None:
    listener = NotifyListener(workdir, abstract=True)
    sock = workdir / "kubert.sock"
    read_end, write_end = os.pipe()
    info = os.fstat(write_end)
    env = dict(os.environ, NOTIFY_SOCKET=listener.address, WATCHDOG_USEC="200000",
               JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
    process = subprocess.Popen(
        memory_serve(f"unix://{sock}", workdir / "root"), env=env,
        stdout=subprocess.DEVNULL, stderr=write_end,
    )
    os.close(write_end)
    try:
        messages = listener.receive_until("READY=1")
        assert messages[:2] == [
            "STATUS=starting backends", "STATUS=recovering state from the engine and checkpoints"
        ]
        assert messages[-1] == (
            f"READY=1\nSTATUS=serving CRI on unix://{sock}; recovered 0 sandboxes, 0 checkpoints"
        )
        assert sock.exists()  # READY=1 comes once the socket answers, not before
        listener.receive_until("WATCHDOG=1")
        process.send_signal(signal.SIGTERM)
        messages = listener.receive_until("STOPPING=1")
        assert messages[-1] == "STOPPING=1\nSTATUS=draining in-flight calls (up to 10s)"
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()
        with os.fdopen(read_end) as stream:
            log_text = stream.read()
    lines = log_text.splitlines()
    assert lines, "kubert serve logged nothing"
    # The journal stamps the time; kubert's lines carry the priority and no timestamp.
    assert all(re.match(r"<[0-7]>kubert[.\w]*: ", line) for line in lines), lines
    assert any(line.startswith("<6>kubert.serve: serving CRI on") for line in lines), lines
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line) for line in lines), lines


def test_status_while_recovery_waits_for_the_engine_and_once_it_is_done(
    workdir: Path, docker_engine: Any
) -> None:
    """The engine is not there at start: kubert serves, says what it waits for, and says so
    again once recovery ran (the engine's socket appears under the configured path)."""
    listener = NotifyListener(workdir)
    late = workdir / "engine.sock"
    env = {k: v for k, v in os.environ.items() if k != "KUBERT_DISABLE_PLUGIN_AUTOLOAD"}
    env["NOTIFY_SOCKET"] = listener.address
    process = subprocess.Popen(
        memory_serve(f"unix://{workdir / 'k.sock'}", workdir / "root", "--runtime", "docker",
                     "--docker-endpoint", f"unix://{late}"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        messages = listener.receive_until("READY=1")
        assert messages[-1].endswith("; start-up recovery waits for the engine"), messages
        late.symlink_to(docker_engine.socket)  # the engine "starts"
        messages = listener.receive_until("; recovered ")
        assert re.fullmatch(r"STATUS=serving CRI on \S+; recovered \d+ sandboxes, 0 checkpoints",
                            messages[-1]), messages
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        listener.close()
    assert process.returncode == 0, stderr
    # Not under the journal: the usual timestamped lines.
    assert re.search(r"^\d{4}-\d\d-\d\d .* WARNING kubert.recovery: ", stderr, re.M), stderr


def test_watchdog_interval_is_half_and_only_for_this_pid(workdir: Path) -> None:
    listener = NotifyListener(workdir)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "4000000",
                             "WATCHDOG_PID": str(os.getpid())})
        assert notifier.watchdog_interval == 2.0
        sent = [notifier.watchdog_due(now) for now in (100.0, 101.0, 101.9, 102.0, 103.0, 104.5)]
        assert sent == [True, False, False, True, False, True]
        listener.sock.settimeout(10)
        assert [listener.sock.recv(64) for _ in range(3)] == [b"WATCHDOG=1"] * 3
        other = Notifier({"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "4000000",
                          "WATCHDOG_PID": "1"})
        assert other.watchdog_interval is None and not other.watchdog_due(100.0)
    finally:
        listener.close()


def test_without_notify_socket_nothing_is_sent_and_a_dead_socket_does_not_raise(
    workdir: Path,
) -> None:
    assert not Notifier({}).ready("x")
    gone = Notifier({"NOTIFY_SOCKET": str(workdir / "nobody-listens.sock")})
    assert gone.enabled and not gone.ready("serving")  # logged once, never raised


def test_status_text_stays_one_assignment(workdir: Path) -> None:
    listener = NotifyListener(workdir)
    try:
        assert Notifier({"NOTIFY_SOCKET": listener.address}).status("first\nREADY=1")
        assert listener.receive_until("STATUS") == ["STATUS=first READY=1"]
    finally:
        listener.close()


def test_journal_format_only_when_stderr_is_the_named_stream(tmp_path: Path) -> None:
    target = tmp_path / "log"
    with target.open("w") as stream:
        info = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert stderr_is_journal(env, fd=stream.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{info.st_dev}:1"}, fd=stream.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": "garbage"}, fd=stream.fileno())
    record = logging.LogRecord("kubert.x", logging.WARNING, __file__, 1, "two\nlines", (), None)
    assert JournalFormatter().format(record) == "<4>kubert.x: two\n<4>lines"
    record.levelno = logging.DEBUG
    assert JournalFormatter().format(record).startswith("<7>")
