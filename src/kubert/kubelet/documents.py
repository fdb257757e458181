"""A manifest file of several objects: Pods, ConfigMaps and Secrets, in one or more YAML
documents or in a ``kind: List`` (as ``kubectl get -o yaml`` prints several objects).

Every document is loaded before anything is applied, so a file with one bad document applies
nothing; the problems of all documents are raised together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from attrs import field, frozen

from kubert.errors import InvalidArgumentError
from kubert.kubelet.manifest import ManifestError, Notices, pod_from_dict
from kubert.kubelet.objects import KINDS, KubeObject, object_from_dict
from kubert.kubelet.pod import Pod


@frozen(kw_only=True)
class Documents:
    """What a file holds: its pods, its ConfigMaps and Secrets, and the notices of loading
    (one per ignored field over the whole file)."""

    pods: list[Pod] = field(factory=list)
    objects: list[KubeObject] = field(factory=list)
    found: Notices = field(factory=dict)

    @property
    def notices(self) -> list[str]:
        return list(self.found.values())


def _flatten(documents: list[Any]) -> list[Any]:
    out: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            out.extend(document.get("items") or [])
        else:
            out.append(document)
    return out


def load_documents(text: str, source: str = "") -> Documents:
    """Every Pod, ConfigMap and Secret of a YAML text.

    :raises ManifestError: every problem of every document, each prefixed by its document.
    """
    try:
        raw = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(source, [("(yaml)", str(exc).replace("\n", " "))]) from None
    items = _flatten(raw)
    if not items:
        raise ManifestError(source, [("(document)", "no object in the file")])
    loaded = Documents()
    problems: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        where = f"#{index}" if len(items) > 1 else ""
        name = f"{source}{where}"
        kind = item.get("kind", "Pod") if isinstance(item, dict) else "Pod"
        try:
            if kind in KINDS:
                loaded.objects.append(object_from_dict(item, name, loaded.found))
            else:
                loaded.pods.append(pod_from_dict(item, name, loaded.found))
        except ManifestError as exc:
            problems += [(f"{where}{' ' if where else ''}{p}", r) for p, r in exc.problems]
    if problems:
        raise ManifestError(source, problems)
    return loaded


def load_document_file(path: str | Path) -> Documents:
    """Every Pod, ConfigMap and Secret in the YAML file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise InvalidArgumentError("file", str(file), f"cannot be read: {exc.strerror}") from None
    return load_documents(text, str(file))
