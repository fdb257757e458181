"""The result cache, laid out as libcni lays it out: one JSON file per attachment.

``<cache dir>/results/<network>-<container id>-<ifname>`` holds what DEL, CHECK and GC need
later: the config list the attachment was made with, its netns, CNI_ARGS, capability args and
the final result. kubert writes the entry (without result) before ADD starts, so an attachment
interrupted by a crash is still found and collected.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from kubert import atomic_write

log = logging.getLogger(__name__)

CACHE_KIND = "cniCacheV1"


@frozen(kw_only=True)
class CacheEntry:
    """One attachment of one container to one network on one interface."""

    network: str
    container_id: str
    ifname: str
    netns: str = ""
    config: bytes = b""
    cni_args: tuple[tuple[str, str], ...] = field(factory=tuple)
    capability_args: Mapping[str, Any] = field(factory=dict)
    result: Mapping[str, Any] | None = None

    def to_json(self) -> bytes:
        doc: dict[str, Any] = {
            "kind": CACHE_KIND,
            "containerId": self.container_id,
            "config": base64.b64encode(self.config).decode(),
            "ifName": self.ifname,
            "networkName": self.network,
            "netns": self.netns,
            "cniArgs": [list(pair) for pair in self.cni_args],
            "capabilityArgs": dict(self.capability_args),
        }
        if self.result is not None:
            doc["result"] = self.result
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CacheEntry:
        """:raises ValueError: the file is not a cache entry kubert can read."""
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("kind") != CACHE_KIND:
            raise ValueError(f"kind is not {CACHE_KIND!r}")
        try:
            config = base64.b64decode(doc.get("config") or "", validate=True)
        except binascii.Error as exc:
            raise ValueError(f"config is not base64: {exc}") from None
        result = doc.get("result")
        args = doc.get("cniArgs") or []
        return cls(
            network=str(doc["networkName"]),
            container_id=str(doc["containerId"]),
            ifname=str(doc["ifName"]),
            netns=str(doc.get("netns") or ""),
            config=config,
            cni_args=tuple((str(k), str(v)) for k, v in args),
            capability_args=dict(doc.get("capabilityArgs") or {}),
            result=result if isinstance(result, dict) else None,
        )


class ResultCache:
    """Reads and writes cache entries under ``cache_dir/results``."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.results_dir = cache_dir / "results"

    def path(self, network: str, container_id: str, ifname: str) -> Path:
        return self.results_dir / f"{network}-{container_id}-{ifname}"

    def write(self, entry: CacheEntry) -> None:
        """Atomically create or replace the entry (write a temp file, then rename it)."""
        self.results_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.path(entry.network, entry.container_id, entry.ifname)
        atomic_write(target, entry.to_json())

    def read(self, network: str, container_id: str, ifname: str) -> CacheEntry | None:
        return self._load(self.path(network, container_id, ifname))

    def delete(self, network: str, container_id: str, ifname: str) -> None:
        self.path(network, container_id, ifname).unlink(missing_ok=True)

    def for_container(self, container_id: str, ifname: str) -> list[CacheEntry]:
        """Every entry of ``container_id`` on ``ifname``, whatever the network."""
        suffix = f"-{container_id}-{ifname}"
        return [
            entry
            for path in self._files()
            if path.name.endswith(suffix)
            and (entry := self._load(path)) is not None
            and entry.container_id == container_id
            and entry.ifname == ifname
        ]

    def entries(self) -> list[CacheEntry]:
        """Every readable entry (unreadable files are logged and left alone)."""
        return [entry for path in self._files() if (entry := self._load(path)) is not None]

    def _files(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.results_dir))
        except FileNotFoundError:
            return []
        return [self.results_dir / n for n in names if not n.startswith(".tmp-")]

    def _load(self, path: Path) -> CacheEntry | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read CNI cache entry %s: %s", path, exc)
            return None
        try:
            return CacheEntry.from_json(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable CNI cache entry %s: %s", path, exc)
            return None
