"""``kubert version``: kubert's version and the CRI API version it serves."""

from __future__ import annotations

import importlib.metadata
import platform

import click

from kubert import __version__

__all__ = ["build_info", "command", "version_line"]


def version_line() -> str:
    """What ``kubert version`` and ``kubert serve --version`` print."""
    return f"kubert {__version__} (CRI API v1)"


def build_info() -> str:
    """What ``kubert serve --buildinfo`` prints: program, version and what it runs on."""
    lines = [
        "Program: kubert",
        f"Version: {__version__}",
        "CRI API: v1",
        f"Python version: {platform.python_implementation()} {platform.python_version()}",
    ]
    for distribution in ("grpcio", "protobuf", "kubert-docker", "kubert-cni", "kubert-inplace"):
        try:
            lines.append(f"{distribution}: {importlib.metadata.version(distribution)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return "\n".join(lines)


@click.command("version")
def command() -> None:
    """Print kubert's version and the CRI API version it serves."""
    click.echo(version_line())
