"""The ``file`` checkpoint store: one checksummed JSON file per sandbox, written atomically.

Files live in ``<root_dir>/checkpoints/<sandbox id>.json`` as
``{"version": 1, "checksum": "sha256:<hex>", "data": {...}}``, the checksum taken over the
canonical JSON of ``data``. A write goes to a temporary file that is fsynced, renamed over the
old one, and the directory fsynced, so a crash leaves the old or the new checkpoint, never half
of one. A file that fails to parse or verify is logged and moved aside, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from kubert.backends import BackendContext, CheckpointStore
from kubert.errors import NotFoundError
from kubert.fileutil import DURABILITY, atomic_write, fsync_directory
from kubert.hookspecs import RegisterBackend, hookimpl
from kubert.model import Checkpoint, PodIP, PodSandboxNetworkStatus, PortMapping
from kubert.model.validate import check_id

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SUFFIX = ".json"


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def encode(checkpoint: Checkpoint) -> bytes:
    """The file content for ``checkpoint``."""
    data: dict[str, Any] = {
        "sandbox_id": checkpoint.sandbox_id,
        "name": checkpoint.name,
        "namespace": checkpoint.namespace,
        "uid": checkpoint.uid,
        "attempt": checkpoint.attempt,
        "host_network": checkpoint.host_network,
        "port_mappings": [
            {
                "protocol": int(p.protocol),
                "container_port": p.container_port,
                "host_port": p.host_port,
                "host_ip": p.host_ip,
            }
            for p in checkpoint.port_mappings
        ],
        "netns_path": checkpoint.netns_path,
        "network": None
        if checkpoint.network is None
        else {
            "ip": checkpoint.network.ip,
            "additional_ips": [ip.ip for ip in checkpoint.network.additional_ips],
        },
        "created_at": checkpoint.created_at,
        "runtime_handler": checkpoint.runtime_handler,
        "annotations": dict(checkpoint.annotations),
        "extra": dict(checkpoint.extra),
    }
    digest = hashlib.sha256(_canonical(data)).hexdigest()
    document = {"version": FORMAT_VERSION, "checksum": f"sha256:{digest}", "data": data}
    return json.dumps(document, sort_keys=True, indent=1).encode()


def decode(raw: bytes) -> Checkpoint:
    """Parse and verify file content. :raises ValueError: what is wrong with it."""
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported format version {document.get('version')!r}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise ValueError("no data object")
    expected = f"sha256:{hashlib.sha256(_canonical(data)).hexdigest()}"
    if document.get("checksum") != expected:
        raise ValueError("checksum mismatch")
    network = data.get("network")
    try:
        return Checkpoint(
            sandbox_id=data["sandbox_id"],
            name=data["name"],
            namespace=data["namespace"],
            uid=data["uid"],
            attempt=data["attempt"],
            host_network=data["host_network"],
            port_mappings=tuple(PortMapping(**p) for p in data["port_mappings"]),
            netns_path=data["netns_path"],
            network=None
            if network is None
            else PodSandboxNetworkStatus(
                ip=network["ip"],
                additional_ips=tuple(PodIP(ip=ip) for ip in network["additional_ips"]),
            ),
            created_at=data["created_at"],
            runtime_handler=data["runtime_handler"],
            annotations=data["annotations"],
            extra=data["extra"],
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed data: {type(error).__name__}: {error}") from None


class FileCheckpointStore(CheckpointStore):
    """Checkpoints as files under ``<root_dir>/checkpoints``.

    The store is the directory's one writer while kubert runs: it lists the directory once,
    when it is built, and keeps the IDs present in memory from then on (every ListPodSandbox
    asks for them, and listing a directory of a thousand files costs a millisecond).
    """

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.directory = Path(context.option("directory", context.root_dir / "checkpoints"))
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._remove_stale_temp_files()
        self._ids = self._listed()
        self._sorted: tuple[str, ...] | None = None  # (``list`` is the method here)

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files of writes a crash cut short: their rename never happened, so the
        checkpoint they were to replace (or its absence) is still the truth."""
        for entry in os.scandir(self.directory):
            if entry.name.startswith(".") and f"{SUFFIX}.tmp-" in entry.name:
                log.info("removing %s, left by a checkpoint write that did not finish", entry.path)
                Path(entry.path).unlink(missing_ok=True)

    def _path(self, sandbox_id: str) -> Path:
        check_id("sandbox_id", sandbox_id)
        return self.directory / f"{sandbox_id}{SUFFIX}"

    def write(self, checkpoint: Checkpoint) -> None:
        atomic_write(self._path(checkpoint.sandbox_id), encode(checkpoint))
        DURABILITY.add("checkpoint_writes")
        self._present(checkpoint.sandbox_id, True)

    def _present(self, sandbox_id: str, present: bool) -> None:
        """Record that the file of ``sandbox_id`` now exists (or no longer does)."""
        with self._lock:
            if present:
                self._ids.add(sandbox_id)
            else:
                self._ids.discard(sandbox_id)
            self._sorted = None

    def read(self, sandbox_id: str) -> Checkpoint:
        path = self._path(sandbox_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self._present(sandbox_id, False)  # removed by hand: list() forgets it too
            raise NotFoundError("checkpoint", sandbox_id) from None
        try:
            checkpoint = decode(raw)
            if checkpoint.sandbox_id != sandbox_id:
                raise ValueError(f"it belongs to sandbox {checkpoint.sandbox_id!r}")
        except ValueError as error:
            aside = self._move_aside(path)
            log.error("checkpoint %s is corrupt (%s); moved aside to %s", path, error, aside)
            raise NotFoundError(
                "checkpoint", sandbox_id, f"corrupt ({error}); moved aside to {aside}"
            ) from None
        return checkpoint

    def _move_aside(self, path: Path) -> Path:
        with self._lock:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            aside = path.with_name(f"{path.name}.corrupt-{stamp}")
            counter = 0
            while aside.exists():
                counter += 1
                aside = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
            os.replace(path, aside)
        self._present(path.name.removesuffix(SUFFIX), False)
        return aside

    def delete(self, sandbox_id: str) -> None:
        self._path(sandbox_id).unlink(missing_ok=True)
        self._present(sandbox_id, False)
        fsync_directory(self.directory)
        DURABILITY.add("checkpoint_deletes")

    def list(self) -> list[str]:
        """IDs of the checkpoint files present, sorted, from memory (cheap: read() verifies
        each one)."""
        with self._lock:
            if self._sorted is None:
                self._sorted = tuple(sorted(self._ids))
            return [*self._sorted]

    def _listed(self) -> set[str]:
        """IDs of the checkpoint files the directory holds."""
        return {
            entry.name.removesuffix(SUFFIX) for entry in os.scandir(self.directory)
            if not entry.name.startswith(".") and entry.name.endswith(SUFFIX)
        }


@hookimpl
def kubert_register_backends(register: RegisterBackend) -> None:
    register("file", FileCheckpointStore)
