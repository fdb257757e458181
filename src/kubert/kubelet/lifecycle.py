"""Container lifecycle hooks (postStart, preStop) and termination messages: their fields,
validation, and running a hook once.

A hook handler is one of ``exec`` (ExecSync in the container), ``httpGet`` (to the pod IP) or
``sleep`` (kubert waits ``seconds``). As in the kubelet, a failed postStart kills the container
(``PostStartHookError``); preStop runs inside the grace period, which StopContainer then gets
what is left of (at least the minimum grace).
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from kubert.kubelet import labels
from kubert.kubelet.clock import Clock
from kubert.kubelet.probers import run_probe
from kubert.kubelet.probespec import ExecAction, HTTPGetAction, Probe, resolve_port
from kubert.kubelet.runtime import RuntimeClient

#: The kubelet's defaults and limits for termination messages.
DEFAULT_MESSAGE_PATH = "/dev/termination-log"
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048


@frozen(kw_only=True)
class SleepAction:
    seconds: int


@frozen(kw_only=True)
class LifecycleHandler:
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    sleep: SleepAction | None = None

    @property
    def handlers(self) -> list[str]:
        named = (("exec", self.exec), ("httpGet", self.http_get), ("sleep", self.sleep))
        return [name for name, value in named if value is not None]


@frozen(kw_only=True)
class Lifecycle:
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None


def validate_lifecycle(
    path: str, lifecycle: Lifecycle, named: list[tuple[str, int]]
) -> Iterable[tuple[str, str]]:
    """Problems of a container's ``lifecycle``, each ``(path, reason)``."""
    for name, handler in (("postStart", lifecycle.post_start), ("preStop", lifecycle.pre_stop)):
        if handler is None:
            continue
        hpath = f"{path}.{name}"
        if len(handler.handlers) != 1:
            yield hpath, f"must set exactly one of exec, httpGet, sleep (got {handler.handlers})"
        if handler.exec is not None and not handler.exec.command:
            yield f"{hpath}.exec.command", "required"
        if handler.http_get is not None:
            port = resolve_port(handler.http_get.port, named)
            if port is None or not 1 <= port <= 65535:
                yield f"{hpath}.httpGet.port", f"not a port (got {handler.http_get.port!r})"
        if handler.sleep is not None and handler.sleep.seconds < 0:
            yield f"{hpath}.sleep.seconds", f"must not be negative (got {handler.sleep.seconds})"


def validate_termination(
    path: str, message_path: str, policy: str
) -> Iterable[tuple[str, str]]:
    if message_path and not message_path.startswith("/"):
        yield f"{path}.terminationMessagePath", f"must be an absolute path (got {message_path!r})"
    if policy not in MESSAGE_POLICIES:
        yield (
            f"{path}.terminationMessagePolicy",
            f"must be File or FallbackToLogsOnError (got {policy!r})",
        )


def run_hook(
    runtime: RuntimeClient,
    clock: Clock,
    container_id: str,
    handler: LifecycleHandler,
    pod_ip: str,
    timeout: float,
    named_ports: list[tuple[str, int]] | tuple[tuple[str, int], ...] = (),
) -> str:
    """Run ``handler`` once for ``container_id`` within ``timeout`` seconds; "" or the error."""
    if handler.sleep is not None:
        clock.sleep(min(float(handler.sleep.seconds), timeout))
        return ""
    # exec and httpGet run as a one-shot probe does (same handlers, same outcome rules)
    probe = Probe(
        exec=handler.exec, http_get=handler.http_get, timeout_seconds=max(1, int(timeout))
    )
    ok, message = run_probe(runtime, container_id, probe, pod_ip, tuple(named_ports))
    if ok:
        return ""
    return message or "the hook failed"



def termination_message(
    annotations: dict[str, str], exit_code: int, log_path: str, runtime_message: str
) -> str:
    """What a terminated container said: its terminationMessagePath file (at most 4096
    bytes); with FallbackToLogsOnError, an exit code other than 0 and no message, the tail of
    its log (80 lines, 2048 bytes). The runtime's own message when kubert mounted no file."""
    host = annotations.get(labels.TERMINATION_LOG, "")
    message = ""
    if host:
        try:
            with open(host, "rb") as handle:
                message = handle.read(MAX_MESSAGE_BYTES).decode(errors="replace")
        except OSError:
            message = ""
    fallback = annotations.get(labels.TERMINATION_MESSAGE_POLICY) == "FallbackToLogsOnError"
    if not message and fallback and exit_code != 0 and log_path:
        message = _log_tail(log_path)
    return message or runtime_message


def _log_tail(log_path: str) -> str:
    """The message part of the last CRI log lines ("<time> <stream> <tag> <message>")."""
    try:
        with open(log_path, "rb") as handle:
            lines = handle.read().decode(errors="replace").splitlines()[-FALLBACK_LOG_LINES:]
    except OSError:
        return ""
    text = "\n".join(line.split(" ", 3)[3] if line.count(" ") >= 3 else line for line in lines)
    return text.encode()[-FALLBACK_LOG_BYTES:].decode(errors="replace")
