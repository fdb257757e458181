"""Run one CNI plugin binary per the spec: CNI_* environment, config on stdin, result on stdout.

A plugin that outlives its timeout is killed with its whole process group; an error result
(code, msg, details) or unreadable output becomes a :class:`CNIPluginError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
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
        # Own session: a timeout kills the plugin and anything it forked, and nothing else.
        proc = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=invocation.environ(bin_dirs), start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"cannot execute {binary}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DeadlineExceededError(
            f"CNI plugin {plugin_type!r} {command} on network {network!r}", timeout
        ) from None
    return _interpret(plugin_type, command, network, proc.returncode, stdout, stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # Reap the plugin; its pipes close once the whole group is dead.
    proc.communicate()


def _interpret(
    plugin_type: str, command: str, network: str, returncode: int, stdout: bytes, stderr: bytes
) -> dict[str, Any] | None:
    err_text = stderr[:2000].decode(errors="replace").strip()
    if len(stdout) > _MAX_OUTPUT_BYTES:
        raise CNIPluginError(plugin_type, command, network, 0,
                             f"printed {len(stdout)} bytes, more than a result can be")
    text = stdout.strip()
    if returncode != 0:
        error = _error_result(text)
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
    error = _error_result(text) if "code" in doc and "msg" in doc else None
    if error is not None:
        # An error result with exit status 0 is still an error (some plugins get this wrong).
        raise CNIPluginError(plugin_type, command, network, *error)
    return doc


def _error_result(text: bytes) -> tuple[int, str, str] | None:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
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
