"""``kubert delete -f pod.yaml`` / ``kubert delete pod NAME``: stop and remove pods."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pluggy

from kubert.errors import InvalidArgumentError
from kubert.kubelet.cli.podctl import runtime_options, session
from kubert.kubelet.manifest import load_pod_file
from kubert.kubelet.pod import Pod


def _printer(name: str) -> Callable[[str], None]:
    def progress(line: str) -> None:
        click.echo(f"  {name}: {line}")

    return progress


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("delete")
    @click.argument("kind", required=False)
    @click.argument("names", nargs=-1)
    @click.option("-f", "--filename", "filename", type=click.Path(path_type=Path, exists=True,
                  dir_okay=False), help="Delete the pods of this manifest.")
    @click.option("-n", "--namespace", default="default", show_default=True)
    @click.option("--grace-period", type=int, default=None,
                  help="Seconds of grace for every container (at least 2), instead of the "
                  "pod's terminationGracePeriodSeconds.")
    @runtime_options
    def delete(
        kind: str | None, names: tuple[str, ...], filename: Path | None, namespace: str,
        grace_period: int | None, **options: Any,
    ) -> None:
        """Stop pods (containers get their grace period) and remove them."""
        if filename is None and (kind not in ("pod", "pods", "po") or not names):
            raise click.UsageError("give -f FILE or 'pod NAME...'")
        with session(pm, **options) as s:
            targets: list[tuple[str, Pod | None]] = []
            if filename is not None:
                try:
                    targets = [(p.uid, p) for p in load_pod_file(filename)]
                except InvalidArgumentError as exc:
                    raise click.ClickException(str(exc)) from None
            for name in names:
                uid, found = s.find(name, namespace)
                targets.append((uid, found))
            for uid, pod in targets:
                name = pod.name if pod is not None else uid
                status = s.manager.observe(uid)
                if not status.sandboxes and s.store.load(uid) is None:
                    click.echo(f'pod "{name}" not found', err=True)
                    continue
                steps = s.manager.delete_pod(
                    uid, pod, progress=_printer(name), grace_period=grace_period
                )
                s.store.forget(uid)
                for step in steps:
                    if not step.ok:
                        click.echo(f"  {name}: {step.action} failed: {step.message}", err=True)
                click.echo(f'pod "{name}" deleted')

    return delete
