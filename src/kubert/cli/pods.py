"""Finding a pod and one of its containers by name or ID for the streaming commands, and the
options they share (the CRI endpoint, the CA for a TLS streaming server)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import click

from kubert.config import DEFAULT_ENDPOINT
from kubert.cri.client import CriClient
from kubert.model import ContainerFilter, PodSandbox
from kubert.model.enums import ContainerState, PodSandboxState

__all__ = ["connection_options", "find_container", "find_pod", "tls_context"]


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--runtime-endpoint`` (crictl's name and variable), ``--namespace`` and ``--cacert``."""
    command = click.option(
        "--cacert", type=click.Path(exists=True, dir_okay=False), default=None,
        help="CA bundle that signed a TLS streaming server's certificate",
    )(command)
    command = click.option(
        "-n", "--namespace", default=None, help="pod namespace, when a name is ambiguous",
    )(command)
    return click.option(
        "-r", "--runtime-endpoint", default=DEFAULT_ENDPOINT, show_default=True,
        envvar="CONTAINER_RUNTIME_ENDPOINT", help="the kubert CRI socket",
    )(command)


def tls_context(cacert: str | None) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=cacert) if cacert else None


def find_pod(client: CriClient, pod: str, namespace: str | None) -> PodSandbox:
    """The ready sandbox named ``pod`` (or whose ID starts with it).

    :raises click.ClickException: none, or several, match.
    """
    ready = [s for s in client.list_pod_sandbox() if s.state == PodSandboxState.SANDBOX_READY]
    by_name = [
        s for s in ready
        if s.metadata.name == pod and namespace in (None, s.metadata.namespace)
    ]
    matches = by_name or [s for s in ready if s.id.startswith(pod)]
    if not matches:
        raise click.ClickException(f"no ready pod named {pod!r} (or with an ID starting so)")
    if len(matches) > 1:
        names = ", ".join(f"{s.metadata.namespace}/{s.metadata.name} ({s.id[:12]})"
                          for s in matches)
        raise click.ClickException(f"{pod!r} is ambiguous: {names}; use -n or a longer ID")
    return matches[0]


def find_container(client: CriClient, sandbox: PodSandbox, name: str | None) -> str:
    """The ID of the running container ``name`` of ``sandbox`` (its only one when None)."""
    running = client.list_containers(
        ContainerFilter(pod_sandbox_id=sandbox.id, state=ContainerState.CONTAINER_RUNNING)
    )
    if name is not None:
        running = [c for c in running if c.metadata.name == name]
    if len(running) == 1:
        return running[0].id
    pod = sandbox.metadata.name
    if not running:
        which = f"named {name!r} " if name else ""
        raise click.ClickException(f"pod {pod!r} has no running container {which}".rstrip())
    names = ", ".join(sorted(c.metadata.name for c in running))
    raise click.ClickException(f"pod {pod!r} runs several containers ({names}); choose with -c")
