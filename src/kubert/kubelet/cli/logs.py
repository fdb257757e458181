"""``kubert logs POD [-c CONTAINER] [-f]``: print a container's CRI log file.

CRI log lines are ``<RFC 3339 time> <stdout|stderr> <P|F> <text>``; ``P`` marks a partial line
that the next entry continues. The file is found through ContainerStatus.log_path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click
import pluggy

from kubert.errors import NotFoundError
from kubert.kubelet.cli.podctl import Session, runtime_options, session
from kubert.kubelet.criconfigs import pod_log_dir
from kubert.kubelet.observe import ContainerRuntimeStatus
from kubert.model import ContainerState

FOLLOW_POLL = 0.25


def parse_line(line: str) -> tuple[str, str, bool, str]:
    """``(time, stream, partial, text)`` of one CRI log line (text without its newline)."""
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("stdout", "stderr"):
        return "", "stdout", False, line.rstrip("\n")
    text = parts[3] if len(parts) == 4 else ""
    return parts[0], parts[1], parts[2] == "P", text


def _entries(handle: IO[str]) -> Iterator[tuple[str, str, str]]:
    """Complete entries (time, stream, text) from what is in ``handle`` now; an entry whose
    last piece has not been written yet is left to the next call."""
    pending = ""
    start = handle.tell()
    while True:
        line = handle.readline()
        if not line or not line.endswith("\n"):
            handle.seek(start)
            return
        stamp, stream, partial, text = parse_line(line)
        pending += text
        if partial:
            continue
        yield stamp, stream, pending
        pending = ""
        start = handle.tell()


def _log_file(s: Session, uid: str, current: ContainerRuntimeStatus) -> Path:
    path = Path(current.status.log_path)
    if not path.is_absolute():
        stored = s.store.load(uid)
        if stored is not None:
            path = pod_log_dir(s.manager.config, stored.pod) / path
    return path


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("logs")
    @click.argument("pod_name")
    @click.option("-c", "--container", help="Container name (default: the only one).")
    @click.option("-f", "--follow", is_flag=True, help="Keep printing while it runs.")
    @click.option("-p", "--previous", is_flag=True, help="The previous instance's log.")
    @click.option("-n", "--namespace", default="default", show_default=True)
    @click.option("--timestamps", is_flag=True, help="Print each line's time.")
    @runtime_options
    def logs(
        pod_name: str, container: str | None, follow: bool, previous: bool, namespace: str,
        timestamps: bool, **options: Any,
    ) -> None:
        """Print a container's log (read from the CRI log file)."""
        with session(pm, **options) as s:
            uid, pod = s.find(pod_name, namespace)
            status = s.manager.observe(uid)
            names = list(dict.fromkeys(c.name for c in reversed(status.containers)))
            if container is None:
                regular = [c.name for c in pod.spec.containers] if pod else names
                if len(regular) != 1:
                    raise click.ClickException(
                        f"pod {pod_name} has containers {', '.join(regular)}; choose one with -c"
                    )
                container = regular[0]
            instances = status.all_named(container)
            if not instances:
                raise click.ClickException(f"container {container!r} of pod {pod_name} has not run")
            if previous and len(instances) < 2:
                raise click.ClickException(f"container {container!r} has no previous instance")
            chosen = instances[1] if previous else instances[0]
            path = _log_file(s, uid, chosen)
            try:
                handle = path.open()
            except OSError as exc:
                raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
            with handle:
                _print(handle, timestamps)
                while follow and _running(s, chosen.id):
                    time.sleep(FOLLOW_POLL)
                    _print(handle, timestamps)
                _print(handle, timestamps)

    return logs


def _print(handle: IO[str], timestamps: bool) -> None:
    for stamp, stream, text in _entries(handle):
        line = f"{stamp} {text}" if timestamps and stamp else text
        click.echo(line, err=stream == "stderr")


def _running(s: Session, container_id: str) -> bool:
    try:
        return s.cri.container_status(container_id).state == ContainerState.CONTAINER_RUNNING
    except NotFoundError:
        return False
