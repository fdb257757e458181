"""``kubert exec POD [-c CONTAINER] [-it] -- CMD``: run a command in a container through the
CRI's Exec and the streaming server, speaking WebSocket v5 as kubectl does."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from typing import BinaryIO

import click

from kubert.cli.pods import connection_options, find_container, find_pod, tls_context
from kubert.cri.client import CriClient
from kubert.errors import KubertError
from kubert.model import ExecRequest
from kubert.streaming.client import RemoteCommand


@contextlib.contextmanager
def _raw_terminal(stream: BinaryIO) -> Iterator[None]:
    """Put the local terminal in raw mode for the session, as an interactive shell needs."""
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@click.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("pod")
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-c", "--container", default=None, help="container name [default: the only one]")
@click.option("-i", "--stdin", "use_stdin", is_flag=True, help="pass stdin to the command")
@click.option("-t", "--tty", "use_tty", is_flag=True, help="allocate a terminal")
@connection_options
def command(
    pod: str, cmd: tuple[str, ...], container: str | None, use_stdin: bool, use_tty: bool,
    runtime_endpoint: str, namespace: str | None, cacert: str | None,
) -> None:
    """Run CMD in a container of POD (a pod name or sandbox ID prefix); exits with its code."""
    use_tty = use_tty and sys.stdin.isatty()
    try:
        with CriClient.connect(runtime_endpoint) as client:
            sandbox = find_pod(client, pod, namespace)
            request = ExecRequest(
                container_id=find_container(client, sandbox, container), cmd=cmd,
                stdin=use_stdin, stdout=True, stderr=not use_tty, tty=use_tty,
            )
            url = client.exec(request)
        session = RemoteCommand(url, tls_context(cacert))
    except (KubertError, OSError) as error:
        raise click.ClickException(str(error)) from None
    stdin = sys.stdin.buffer if use_stdin else None
    try:
        if use_tty:
            # The terminal's own size (shutil's would prefer stale COLUMNS/LINES variables).
            def send_size(*_: object) -> None:
                size = os.get_terminal_size(sys.stdin.fileno())
                session.resize(size.columns, size.lines)

            send_size()
            signal.signal(signal.SIGWINCH, send_size)
            with _raw_terminal(sys.stdin.buffer):
                code = session.run(stdin, sys.stdout.buffer, sys.stderr.buffer,
                                   read_stdin=lambda f: os.read(f.fileno(), 4096))
        else:
            code = session.run(stdin, sys.stdout.buffer, sys.stderr.buffer)
    except KubertError as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)
