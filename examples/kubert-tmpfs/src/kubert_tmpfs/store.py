"""One JSON file per object, written with kubert.atomic_write so a crash never leaves
half a record behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubert import atomic_write


class JsonStore:
    """Records of one kind (``sandboxes``, ``containers``, ``images``) in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(key).read_text())
        except FileNotFoundError:
            return None
        return data

    def put(self, key: str, record: dict[str, Any]) -> None:
        atomic_write(self._path(key), json.dumps(record, sort_keys=True))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def all(self) -> Iterator[dict[str, Any]]:
        for path in sorted(self.directory.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except FileNotFoundError:  # removed while listing
                continue
