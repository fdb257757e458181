"""``kubert version``: kubert's version and the CRI API version it serves."""

from __future__ import annotations

import click

from kubert import __version__


@click.command("version")
def command() -> None:
    """Print kubert's version and the CRI API version it serves."""
    click.echo(f"kubert {__version__} (CRI API v1)")
