"""The ``kubert`` command line: a click group; sub-commands live in sibling modules."""

from __future__ import annotations

import click


@click.group()
def cli() -> None:
    """kubert: a CRI runtime layer built from plugins."""


def main() -> None:
    cli()
