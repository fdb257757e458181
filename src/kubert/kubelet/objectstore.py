"""The ConfigMaps and Secrets this node knows, under the kubelet root.

``<root_dir>/objects/configmaps/<namespace>/<name>.json`` and ``.../secrets/...``; the secrets
tree is made 0700 and its files 0600 so only root reads them, config maps are 0644 in 0755
directories. Each file holds one object, keys base64-encoded, replaced atomically.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from attrs import frozen

from kubert.fileutil import atomic_write
from kubert.kubelet.objects import CONFIG_MAP, SECRET, KubeObject
from kubert.kubelet.settings import KubeletConfig

_DIRS = {CONFIG_MAP: "configmaps", SECRET: "secrets"}
_MODES = {CONFIG_MAP: (0o755, 0o644), SECRET: (0o700, 0o600)}


@frozen
class ObjectStore:
    """ConfigMaps and Secrets by kind, namespace and name."""

    config: KubeletConfig

    @property
    def root(self) -> Path:
        return self.config.root_dir / "objects"

    def _path(self, kind: str, namespace: str, name: str) -> Path:
        return self.root / _DIRS[kind] / namespace / f"{name}.json"

    def save(self, obj: KubeObject) -> None:
        dir_mode, file_mode = _MODES[obj.kind]
        path = self._path(obj.kind, obj.namespace, obj.name)
        self.root.mkdir(parents=True, exist_ok=True)
        for directory in (self.root / _DIRS[obj.kind], path.parent):
            directory.mkdir(mode=dir_mode, exist_ok=True)
            # mkdir's mode is masked by the umask; the secrets tree must not be readable.
            os.chmod(directory, dir_mode)
        payload = {
            "kind": obj.kind, "name": obj.name, "namespace": obj.namespace,
            "labels": obj.labels, "annotations": obj.annotations, "type": obj.type,
            "immutable": obj.immutable,
            "data": {k: base64.b64encode(v).decode() for k, v in obj.data.items()},
        }
        atomic_write(path, json.dumps(payload, sort_keys=True), mode=file_mode)

    def get(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        try:
            raw = json.loads(self._path(kind, namespace, name).read_text())
        except (OSError, ValueError):
            return None
        return _from_json(raw)

    def delete(self, kind: str, namespace: str, name: str) -> bool:
        """Forget the object. :returns: whether it was there."""
        path = self._path(kind, namespace, name)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed

    def list(self, kind: str, namespace: str | None = None) -> list[KubeObject]:
        """Every object of ``kind`` (of ``namespace``, or of all when None), sorted."""
        base = self.root / _DIRS[kind]
        if not base.is_dir():
            return []
        out = []
        for directory in sorted(base.iterdir()):
            if namespace is not None and directory.name != namespace:
                continue
            for file in sorted(directory.glob("*.json")):
                obj = self.get(kind, directory.name, file.stem)
                if obj is not None:
                    out.append(obj)
        return out


def _from_json(raw: dict[str, object]) -> KubeObject | None:
    try:
        data = raw["data"]
        assert isinstance(data, dict)
        return KubeObject(
            kind=str(raw["kind"]), name=str(raw["name"]), namespace=str(raw["namespace"]),
            labels=dict(raw.get("labels") or {}),  # type: ignore[call-overload]
            annotations=dict(raw.get("annotations") or {}),  # type: ignore[call-overload]
            type=str(raw.get("type", "")), immutable=bool(raw.get("immutable", False)),
            data={str(k): base64.b64decode(str(v)) for k, v in data.items()},
        )
    except (KeyError, AssertionError, ValueError, TypeError):
        return None
