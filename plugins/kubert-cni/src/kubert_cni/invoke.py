"""Run one CNI plugin binary per the spec: CNI_* environment, config on stdin, result on stdout.

A plugin that outlives its timeout is killed with its whole process group; an error result
(code, msg, details) or unreadable output becomes a :class:`CNIPluginError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kubert import DeadlineExceededError
from kubert_cni.errors import CNIPluginError

# Results are small JSON documents; a plugin printing more is broken and must not exhaust memory.
_MAX_OUTPUT_BYTES = 4 << 20


@frozen(kw_only=True)
class Invocation:
    """The CNI_* variables of one call. ``args`` become CNI_ARGS as ``K=V;K=V``."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: tuple[tuple[str, str], ...] = field(factory=tuple)

    def environ(self, bin_dirs: Sequence[Path]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            CNI_COMMAND=self.command,
            CNI_CONTAINERID=self.container_id,
            CNI_NETNS=self.netns,
            CNI_IFNAME=self.ifname,
            CNI_ARGS=";".join(f"{k}={v}" for k, v in self.args),
            CNI_PATH=os.pathsep.join(str(d) for d in bin_dirs),
        )
        return env


def find_plugin(plugin_type: str, bin_dirs: Sequence[Path]) -> Path | None:
    """The first executable named ``plugin_type`` in ``bin_dirs``, None when there is none."""
    for directory in bin_dirs:
        candidate = directory / plugin_type
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_plugin(
    plugin_type: str,
    network: str,
    invocation: Invocation,
    config: Mapping[str, Any],
    bin_dirs: Sequence[Path],
    timeout: float,
) -> dict[str, Any] | None:
    """Execute the plugin; return its parsed stdout (None when it printed nothing).

    :raises CNIPluginError: binary missing, error result, non-zero exit, or unreadable output.
    :raises DeadlineExceededError: it ran longer than ``timeout`` seconds (it has been killed).
    """
    command = invocation.command
    binary = find_plugin(plugin_type, bin_dirs)
    if binary is None:
        dirs = ", ".join(str(d) for d in bin_dirs) or "(none configured)"
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"no executable {plugin_type!r} in the CNI bin dirs {dirs}")
    stdin = json.dumps(config, separators=(",", ":")).encode()
    try:
        # Own process group: a timeout kills the plugin and anything it forked, and nothing
        # else. Not a new session: that would also give it a new scheduler autogroup, which
        # on a busy node costs each plugin call milliseconds (measured by bench_cni.py).
        proc = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=invocation.environ(bin_dirs), process_group=0, close_fds=True,
        )
    except OSError as exc:
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"cannot execute {binary}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = _exchange(proc, stdin, time.monotonic() + timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DeadlineExceededError(
            f"CNI plugin {plugin_type!r} {command} on network {network!r}", timeout
        ) from None
    except _OutputTooLarge:
        _kill_group(proc)
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"printed more than {_MAX_OUTPUT_BYTES} bytes") from None
    return _interpret(plugin_type, command, network, proc.returncode, stdout, stderr)


class _OutputTooLarge(Exception):
    pass


def _exchange(proc: subprocess.Popen[bytes], data: bytes, deadline: float) -> tuple[bytes, bytes]:
    """Feed stdin, collect stdout and stderr, and reap the plugin, all before ``deadline``.

    What ``communicate(timeout=...)`` does, except for the reaping: subprocess polls waitpid
    with growing sleeps, which costs about a millisecond per plugin call on a busy node, while
    a pidfd wakes us the moment the plugin exits.

    :raises subprocess.TimeoutExpired: the deadline passed (the plugin is still running).
    :raises _OutputTooLarge: it printed more than a result can be.
    """
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    total = 0
    offset = 0
    with selectors.PollSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        selector.register(proc.stdin, selectors.EVENT_WRITE)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(proc.args, 0)
            for key, _events in selector.select(remaining):
                if key.fileobj is proc.stdin:
                    try:
                        # At most PIPE_BUF bytes: a write the poll said fits never blocks.
                        offset += os.write(key.fd, data[offset:offset + select.PIPE_BUF])
                    except BrokenPipeError:  # the plugin does not read its config; its business
                        offset = len(data)
                    if offset >= len(data):
                        selector.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if key.fileobj is proc.stdout:
                        proc.stdout.close()
                    else:
                        proc.stderr.close()
                    continue
                key.data.append(chunk)
                total += len(chunk)
                if total > _MAX_OUTPUT_BYTES:
                    raise _OutputTooLarge
    _reap(proc, deadline)
    return b"".join(out), b"".join(err)


def _reap(proc: subprocess.Popen[bytes], deadline: float) -> None:
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:  # kernels before 5.3 have no pidfd: subprocess's own polling wait
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            raise subprocess.TimeoutExpired(proc.args, 0)
    finally:
        os.close(pidfd)
    proc.wait()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()


def _interpret(
    plugin_type: str, command: str, network: str, returncode: int, stdout: bytes, stderr: bytes
) -> dict[str, Any] | None:
    err_text = stderr[:2000].decode(errors="replace").strip()
    text = stdout.strip()
    if returncode != 0:
        error = _error_result(_json_or_none(text))
        if error is not None:
            code, msg, details = error
            raise CNIPluginError(plugin_type, command, network, code, msg, details)
        how = f"was killed by signal {-returncode}" if returncode < 0 else f"exited {returncode}"
        shown = text[:300].decode(errors="replace")
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"{how} without an error result", err_text or shown)
    if not text:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        shown = text[:200].decode(errors="replace")
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"printed output that is not JSON: {shown!r}", err_text) from None
    if not isinstance(doc, dict):
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"printed JSON that is not an object: {type(doc).__name__}", err_text)
    error = _error_result(doc) if "msg" in doc else None
    if error is not None:
        # An error result with exit status 0 is still an error (some plugins get this wrong).
        raise CNIPluginError(plugin_type, command, network, *error)
    return doc


def _json_or_none(text: bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_result(doc: Any) -> tuple[int, str, str] | None:
    """(code, msg, details) of a CNI error result, None when ``doc`` is not one."""
    if not isinstance(doc, dict) or "code" not in doc:
        return None
    code = doc.get("code")
    msg = doc.get("msg", "")
    details = doc.get("details", "")
    return (
        code if isinstance(code, int) else 0,
        str(msg) if msg else "(no message)",
        str(details) if details else "",
    )
