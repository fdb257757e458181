"""ExecSync: run a command in a container, with a deadline, capped output and its exit code."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Sequence

from kubert import DeadlineExceededError, ExecSyncResult, InvalidArgumentError, NotFoundError
from kubert_docker.engine import Engine, translate
from kubert_docker.engineapi import OutputStream


class _Capped:
    """Keeps the first ``limit`` bytes written to it and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes | None) -> None:
        if not data or self.size >= self.limit:
            return
        data = data[: self.limit - self.size]
        self.parts.append(data)
        self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


def exec_sync(
    engine: Engine, container_id: str, cmd: Sequence[str], timeout: int, limit: int
) -> ExecSyncResult:
    """Run ``cmd`` in ``container_id``; after ``timeout`` s (0 = none) kill it and raise.

    :raises DeadlineExceededError: the deadline fired; the exec'd process has been SIGKILLed.
    """
    if not cmd:
        raise InvalidArgumentError("cmd", list(cmd), "must not be empty")
    if timeout < 0:
        raise InvalidArgumentError("timeout", timeout, "must not be negative")
    api = engine.api()
    with translate("container", container_id):
        exec_id = api.exec_create(container_id, list(cmd))["Id"]
    stdout, stderr = _Capped(limit), _Capped(limit)
    failure: list[BaseException] = []
    streams: list[OutputStream] = []

    def pump() -> None:
        try:
            with translate("container", container_id):
                output = api.exec_output(exec_id)
                streams.append(output)
                for stream, data in output:
                    (stderr if stream == 2 else stdout).add(data)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    reader = threading.Thread(target=pump, name="kubert-docker-exec", daemon=True)
    reader.start()
    try:
        reader.join(timeout if timeout > 0 else None)
        if reader.is_alive():
            _kill(engine, exec_id)
            raise DeadlineExceededError(f"ExecSync {list(cmd)!r}", timeout)
    finally:
        for output in streams:
            output.close()
    if failure:
        raise failure[0]
    return ExecSyncResult(
        stdout=stdout.value(), stderr=stderr.value(), exit_code=_exit_code(engine, exec_id)
    )


def _exit_code(engine: Engine, exec_id: str) -> int:
    # The output can end a moment before the engine records the exit; wait for it, bounded.
    deadline = time.monotonic() + 5
    while True:
        with translate("exec", exec_id):
            info = engine.api().exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() > deadline:
            return int(info.get("ExitCode") or 0)
        time.sleep(0.01)


def _kill(engine: Engine, exec_id: str) -> None:
    """SIGKILL the exec'd process by its host pid (the engine has no API to kill an exec)."""
    with contextlib.suppress(NotFoundError):
        with translate("exec", exec_id):
            pid = int(engine.api().exec_inspect(exec_id).get("Pid") or 0)
        if pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
