"""``kubert plugins``: what is installed, what is active, and why not."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kubert.config import load_config
from kubert.errors import KubertError
from kubert.plugins import PluginHost, PluginInfo, describe_plugins

COLUMNS = ("name", "distribution", "provides", "active", "reason")
HEADERS = ("NAME", "DISTRIBUTION", "PROVIDES", "ACTIVE", "WHY NOT")


def _table(rows: list[PluginInfo]) -> str:
    cells = [
        [str(row[c]) if c != "active" else ("yes" if row[c] else "no") for c in COLUMNS]
        for row in describe_plugins(rows)
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def make_command(host: PluginHost) -> click.Command:
    @click.command("plugins")
    @click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="judge 'active' by this serve configuration")
    @click.option("--runtime", default=None, help="judge 'active' as if serving this runtime")
    @click.option("--network-plugin", default=None, help="... and this network backend")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    def plugins(
        config_file: Path | None, runtime: str | None, network_plugin: str | None, as_json: bool
    ) -> None:
        """List installed plugins: what each provides, whether it is active, and why not."""
        try:
            config = load_config(
                config_file, {"runtime": runtime, "network_plugin": network_plugin},
                host.serve_options(),
            )
        except KubertError as error:
            raise click.UsageError(error.message) from None
        active = (
            config.runtime, config.image_backend, config.network_plugin, config.checkpoint_store
        )
        rows = host.report(active_backends=active)
        if as_json:
            click.echo(json.dumps(describe_plugins(rows), indent=2))
        else:
            click.echo(_table(rows))

    return plugins
