"""``kubert pull IMAGE``: pull an image into the docker engine with per-layer progress."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from kubert import AuthConfig, BackendContext, ImageSpec, KubertError, PullProgress


class _Progress:
    """Prints one line per layer state change; on a terminal, one updating byte counter."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.layers: dict[str, tuple[int, int]] = {}
        self.last_status: dict[str, str] = {}

    def __call__(self, event: PullProgress) -> None:
        if event.layer and event.total:
            self.layers[event.layer] = (event.current, event.total)
        status = event.status
        if event.layer and self.last_status.get(event.layer) != status:
            self.last_status[event.layer] = status
            if not self.tty or status not in ("Downloading", "Extracting"):
                self._clear()
                click.echo(f"{event.layer}: {status}", err=True)
        elif not event.layer and status:
            self._clear()
            click.echo(status, err=True)
        if self.tty:
            done = sum(c for c, _ in self.layers.values())
            total = sum(t for _, t in self.layers.values())
            if total:
                click.echo(f"\r{done / 1e6:8.1f} / {total / 1e6:.1f} MB", nl=False, err=True)

    def _clear(self) -> None:
        if self.tty:
            click.echo("\r\033[K", nl=False, err=True)


@click.command("pull")
@click.argument("image")
@click.option("--docker-endpoint", envvar="DOCKER_HOST", default="", help="docker engine endpoint")
@click.option("--username", default="", help="registry user name")
@click.option("--password", default="", envvar="KUBERT_PULL_PASSWORD",
              help="registry password (or KUBERT_PULL_PASSWORD)")
@click.option("--registry-mirror", "mirrors", multiple=True,
              help="REGISTRY=MIRROR, as for kubert serve")
def pull(image: str, docker_endpoint: str, username: str, password: str,
         mirrors: tuple[str, ...]) -> None:
    """Pull IMAGE into the docker engine, showing each layer's progress."""
    from kubert_docker.images import DockerImages

    with tempfile.TemporaryDirectory(prefix="kubert-pull-") as root:
        backend = DockerImages(
            BackendContext(
                root_dir=Path(root),
                options={"endpoint": docker_endpoint, "registry_mirrors": list(mirrors)},
            )
        )
        auth = AuthConfig(username=username, password=password) if username else None
        try:
            ref = backend.pull_image(
                ImageSpec(image=image), auth, None, progress=_Progress(sys.stderr.isatty())
            )
        except KubertError as error:
            raise click.ClickException(str(error)) from None
        finally:
            backend.close()
    click.echo(f"\n{image}: {ref}" if sys.stderr.isatty() else f"{image}: {ref}")
