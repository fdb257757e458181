"""What ``kubert get / describe / delete`` do for ConfigMaps and Secrets.

Objects live in the object store under ``--root-dir`` (:mod:`kubert.kubelet.objectstore`);
these commands read and change only that, so they need no CRI endpoint.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from kubert.kubelet.cli.podctl import table
from kubert.kubelet.objects import KIND_NAMES, SECRET, KubeObject
from kubert.kubelet.objectstore import ObjectStore
from kubert.kubelet.settings import KubeletConfig

POD_NAMES = ("pods", "pod", "po")
KIND_CHOICES = (*POD_NAMES, *KIND_NAMES)


def object_store(options: dict[str, Any]) -> ObjectStore:
    """The object store of the ``--root-dir`` among the command's runtime options."""
    return ObjectStore(KubeletConfig(root_dir=Path(options["root_dir"])))


def get_objects(
    store: ObjectStore, kind_name: str, names: tuple[str, ...], namespace: str | None,
    output: str,
) -> None:
    """Print the ConfigMaps or Secrets (``kubectl get`` columns, or JSON)."""
    kind = KIND_NAMES[kind_name]
    found = [o for o in store.list(kind, namespace) if not names or o.name in names]
    if output == "json":
        click.echo(json.dumps([_as_json(o) for o in found], indent=2))
        return
    if not found:
        where = "any namespace" if namespace is None else f"{namespace} namespace"
        click.echo(f"No {kind.lower()}s found in {where}.", err=True)
        return
    header = ["NAME", *(["TYPE"] if kind == SECRET else []), "DATA"]
    if namespace is None:
        header = ["NAMESPACE", *header]
    rows = [header]
    for obj in found:
        row = [obj.name, *([obj.type] if kind == SECRET else []), str(len(obj.data))]
        rows.append([obj.namespace, *row] if namespace is None else row)
    click.echo(table(rows))


def _as_json(obj: KubeObject) -> dict[str, Any]:
    meta = {"name": obj.name, "namespace": obj.namespace, "labels": obj.labels,
            "annotations": obj.annotations}
    out: dict[str, Any] = {"apiVersion": "v1", "kind": obj.kind, "metadata": meta}
    if obj.kind == SECRET:
        out["type"] = obj.type
        out["data"] = {k: base64.b64encode(v).decode() for k, v in obj.data.items()}
    else:
        out["data"] = {k: v.decode("utf-8", errors="replace") for k, v in obj.data.items()}
    return out


def describe_object(store: ObjectStore, kind_name: str, name: str, namespace: str) -> None:
    """Print one ConfigMap (keys and values) or Secret (keys and sizes only, as kubectl)."""
    kind = KIND_NAMES[kind_name]
    obj = store.get(kind, namespace, name)
    if obj is None:
        raise click.ClickException(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')

    def pairs(values: dict[str, str]) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "<none>"

    lines = [
        f"Name:         {obj.name}",
        f"Namespace:    {obj.namespace}",
        f"Labels:       {pairs(obj.labels)}",
        f"Annotations:  {pairs(obj.annotations)}",
    ]
    if kind == SECRET:
        lines += ["", f"Type:  {obj.type}"]
    lines += ["", "Data", "===="]
    for key, value in sorted(obj.data.items()):
        if kind == SECRET:
            lines.append(f"{key}:  {len(value)} bytes")
        else:
            lines += [f"{key}:", "----", obj.text(key), ""]
    click.echo("\n".join(lines))


def delete_objects(store: ObjectStore, objects: list[tuple[str, str, str]]) -> None:
    """Delete ``(kind, namespace, name)`` objects; pods that use them keep their volumes'
    last content, as in the kubelet."""
    for kind, namespace, name in objects:
        if store.delete(kind, namespace, name):
            click.echo(f'{kind.lower()} "{name}" deleted')
        else:
            click.echo(f'{kind.lower()} "{name}" not found', err=True)
