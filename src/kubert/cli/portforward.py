"""``kubert port-forward POD [LOCAL:]REMOTE ...``: listen on 127.0.0.1 and relay each
connection to the pod through the CRI's PortForward and the streaming server (WebSocket)."""

from __future__ import annotations

import socket
import threading

import click

from kubert.cli.pods import connection_options, find_pod, tls_context
from kubert.cri.client import CriClient
from kubert.errors import KubertError
from kubert.model import PortForwardRequest
from kubert.streaming.client import forward_connection


def _parse(spec: str) -> tuple[int, int]:
    local, _, remote = spec.rpartition(":")
    try:
        pair = (int(local or remote), int(remote))
    except ValueError:
        raise click.BadParameter(f"{spec!r} is not [LOCAL:]REMOTE with port numbers") from None
    if not (0 <= pair[0] <= 65535 and 1 <= pair[1] <= 65535):
        raise click.BadParameter(f"{spec!r}: ports must be 1..65535 (local 0 picks one)")
    return pair


@click.command("port-forward")
@click.argument("pod")
@click.argument("ports", nargs=-1, required=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="local address")
@connection_options
def command(
    pod: str, ports: tuple[str, ...], address: str, runtime_endpoint: str,
    namespace: str | None, cacert: str | None,
) -> None:
    """Forward local ports to POD's ports (LOCAL:REMOTE, or REMOTE for the same number)."""
    pairs = [_parse(spec) for spec in ports]
    try:
        client = CriClient.connect(runtime_endpoint)
        sandbox_id = find_pod(client, pod, namespace).id
    except (KubertError, OSError) as error:
        raise click.ClickException(str(error)) from None
    tls = tls_context(cacert)
    listeners = []
    for local, remote in pairs:
        listener = socket.create_server((address, local))
        listeners.append((listener, remote))
        click.echo(f"Forwarding from {address}:{listener.getsockname()[1]} -> {remote}")

    def relay(conn: socket.socket, remote: int) -> None:
        try:
            url = client.port_forward(PortForwardRequest(pod_sandbox_id=sandbox_id,
                                                         port=(remote,)))
            forward_connection(url, remote, conn, tls, on_error=lambda m: click.echo(m, err=True))
        except (KubertError, OSError) as error:
            click.echo(f"forwarding to port {remote} failed: {error}", err=True)
            conn.close()

    def accept(listener: socket.socket, remote: int) -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=relay, args=(conn, remote), daemon=True).start()

    threads = [threading.Thread(target=accept, args=lr, daemon=True) for lr in listeners]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
