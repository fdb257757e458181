"""``kubert install-units``: install ``kubert.service`` and ``kubert.socket`` for systemd."""

from __future__ import annotations

from pathlib import Path

import click

from kubert.systemd.units import install_units, kubert_executable

__all__ = ["command"]


@click.command("install-units")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/etc/systemd/system"), show_default=True,
              help="where systemd reads unit files")
@click.option("--kubert", "executable", default=None,
              help="the kubert executable ExecStart runs [default: this one]")
def command(directory: Path, executable: str | None) -> None:
    """Install kubert.service and kubert.socket (socket activation, as cri-docker's)."""
    try:
        kubert = executable or kubert_executable()
        written = install_units(directory, kubert)
    except (OSError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        "next: put flags in /etc/default/kubert (KUBERT_OPTS=...), then\n"
        "  systemctl daemon-reload && systemctl enable --now kubert.socket kubert.service"
    )
