"""``kubert get pods``: a table of pods (name, ready, status, restarts, age, IP); ``kubert get
configmaps|secrets``: the stored objects."""

from __future__ import annotations

import json
from typing import Any

import attrs
import click
import pluggy

from kubert.kubelet.cli.objectctl import KIND_CHOICES, POD_NAMES, get_objects, object_store
from kubert.kubelet.cli.podctl import age, plugin_status, runtime_options, session, table


def make_command(pm: pluggy.PluginManager) -> click.Command:
    @click.command("get")
    @click.argument("kind", type=click.Choice(KIND_CHOICES))
    @click.argument("names", nargs=-1)
    @click.option("-n", "--namespace", default="default", show_default=True)
    @click.option("-A", "--all-namespaces", is_flag=True, help="Pods of every namespace.")
    @click.option("-o", "--output", type=click.Choice(["table", "wide", "json"]), default="table")
    @runtime_options
    def get(
        kind: str, names: tuple[str, ...], namespace: str, all_namespaces: bool, output: str,
        **options: Any,
    ) -> None:
        """List pods with their status as the kubelet side computes it from CRI state (or the
        stored ConfigMaps / Secrets)."""
        if kind not in POD_NAMES:
            where = None if all_namespaces else namespace
            get_objects(object_store(options), kind, names, where, output)
            return
        with session(pm, **options) as s:
            views = []
            extras: dict[str, dict[str, str]] = {}
            for uid, pod in s.all_pods().items():
                view = s.view(uid, pod)
                if not all_namespaces and view.namespace != namespace:
                    continue
                if names and view.name not in names:
                    continue
                views.append(view)
                extras[uid] = plugin_status(pm, s, uid, pod, detail=False)
        views.sort(key=lambda v: (v.namespace, v.name))
        if output == "json":
            click.echo(json.dumps([attrs.asdict(v) for v in views], indent=2))
            return
        if not views:
            where = "any namespace" if all_namespaces else f"{namespace} namespace"
            click.echo(f"No pods found in {where}.", err=True)
            return
        header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]
        if output == "wide":
            header += ["SANDBOX", "UID"]
        # Columns plugins add (kubert_pod_status_extra), in the order they first appear.
        extra_keys = list(dict.fromkeys(k for uid in extras for k in extras[uid]))
        header += [k.upper() for k in extra_keys]
        if all_namespaces:
            header = ["NAMESPACE", *header]
        rows = [header]
        for v in views:
            row = [v.name, f"{v.ready}/{v.total}", v.status, str(v.restarts), age(v.created_at),
                   v.ips[0] if v.ips else "<none>"]
            if output == "wide":
                row += [v.sandbox_id[:13] or "<none>", v.uid]
            row += [extras.get(v.uid, {}).get(k, "<none>") for k in extra_keys]
            rows.append([v.namespace, *row] if all_namespaces else row)
        click.echo(table(rows))

    return get
