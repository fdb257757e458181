"""kubert's ``docker`` plugin: registers the docker runtime and image backends, their
``kubert serve`` flags, and the ``kubert pull`` command.

Importing it needs only kubert; the docker SDK (a dependency of this distribution) is imported
lazily by the backends, so that ``kubert plugins`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubert import RegisterBackend, ServeOption, hookimpl

if TYPE_CHECKING:
    import click


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    """The ``docker`` runtime backend and the ``docker`` image backend."""
    from kubert_docker.images import DockerImages
    from kubert_docker.runtime import DockerRuntime

    register("docker", DockerRuntime)
    register("docker", DockerImages)


@hookimpl
def kubert_serve_options() -> list[ServeOption]:
    """``--docker-endpoint`` and the other flags of the docker backends."""
    from kubert_docker.settings import serve_options

    return serve_options()


@hookimpl
def kubert_add_commands(cli: click.Group) -> None:
    """``kubert pull IMAGE``: pull through the docker image backend, showing progress."""
    from kubert_docker.cli import pull

    cli.add_command(pull)
