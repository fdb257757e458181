"""``kubert delete -f pod.yaml`` / ``kubert delete pod NAME``: stop and remove pods (and the
ConfigMaps and Secrets of the file, or ``delete configmap|secret NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pluggy

from kubert.errors import InvalidArgumentError
from kubert.kubelet.cli.objectctl import POD_NAMES, delete_objects, object_store
from kubert.kubelet.cli.podctl import runtime_options, session
from kubert.kubelet.documents import load_document_file
from kubert.kubelet.objects import KIND_NAMES
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
        if filename is None and (kind not in (*POD_NAMES, *KIND_NAMES) or not names):
            raise click.UsageError("give -f FILE, 'pod NAME...' or 'configmap|secret NAME...'")
        if kind in KIND_NAMES:
            delete_objects(object_store(options), [(KIND_NAMES[kind], namespace, n) for n in names])
            return
        pods: list[Pod] = []
        if filename is not None:
            try:
                documents = load_document_file(filename)
            except InvalidArgumentError as exc:
                raise click.ClickException(str(exc)) from None
            pods = documents.pods
        with session(pm, **options) as s:
            targets: list[tuple[str, Pod | None]] = [(p.uid, p) for p in pods]
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
        if filename is not None:
            delete_objects(
                object_store(options),
                [(o.kind, o.namespace, o.name) for o in documents.objects],
            )

    return delete
