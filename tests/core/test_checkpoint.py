"""The ``file`` checkpoint store: round trip, atomic writes, corruption handling, key checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubert import BackendContext, Checkpoint, InvalidArgumentError, NotFoundError
from kubert.checkpoint import FileCheckpointStore, decode, encode
from kubert.model import PodIP, PodSandboxNetworkStatus, PortMapping, Protocol

SANDBOX = "a" * 64


def _checkpoint(sandbox_id: str = SANDBOX, **changes: object) -> Checkpoint:
    fields: dict[str, object] = {
        "sandbox_id": sandbox_id,
        "name": "web",
        "namespace": "default",
        "uid": "uid-1",
        "attempt": 3,
        "port_mappings": (PortMapping(protocol=Protocol.UDP, container_port=53, host_port=5353),),
        "netns_path": "/var/run/netns/cni-1",
        "network": PodSandboxNetworkStatus(ip="10.1.0.5", additional_ips=(PodIP(ip="fd00::5"),)),
        "created_at": 1_700_000_000_000_000_000,
        "runtime_handler": "runc",
        "annotations": {"k": "v"},
        "extra": {"labels.app": "web"},
    }
    fields.update(changes)
    return Checkpoint(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> FileCheckpointStore:
    return FileCheckpointStore(BackendContext(root_dir=tmp_path))


def test_round_trip(store: FileCheckpointStore, tmp_path: Path) -> None:
    checkpoint = _checkpoint()
    store.write(checkpoint)
    assert store.read(SANDBOX) == checkpoint
    assert store.list() == [SANDBOX]
    path = tmp_path / "checkpoints" / f"{SANDBOX}.json"
    document = json.loads(path.read_text())
    assert document["version"] == 1 and document["checksum"].startswith("sha256:")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # Replacing leaves one file and no temporary files behind.
    store.write(_checkpoint(attempt=4))
    assert store.read(SANDBOX).attempt == 4
    assert os.listdir(tmp_path / "checkpoints") == [f"{SANDBOX}.json"]


def test_delete_is_idempotent(store: FileCheckpointStore) -> None:
    store.write(_checkpoint())
    store.delete(SANDBOX)
    store.delete(SANDBOX)
    assert store.list() == []
    with pytest.raises(NotFoundError):
        store.read(SANDBOX)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw.replace(b"10.1.0.5", b"10.1.0.6"), id="checksum mismatch"),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw.replace(b'"version": 1', b'"version": 9'), id="version"),
        pytest.param(lambda raw: b"[1, 2]", id="not an object"),
    ],
)
def test_corrupt_file_is_moved_aside_not_deleted(
    store: FileCheckpointStore, tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    store.write(_checkpoint())
    path = tmp_path / "checkpoints" / f"{SANDBOX}.json"
    broken = damage(path.read_bytes())  # type: ignore[operator]
    path.write_bytes(broken)
    with pytest.raises(NotFoundError, match="corrupt"):
        store.read(SANDBOX)
    aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == broken
    assert not path.exists()
    assert store.list() == []
    assert "corrupt" in caplog.text


def test_checkpoint_of_another_sandbox_is_refused(
    store: FileCheckpointStore, tmp_path: Path
) -> None:
    directory = tmp_path / "checkpoints"
    (directory / f"{'b' * 64}.json").write_bytes(encode(_checkpoint()))
    with pytest.raises(NotFoundError, match="belongs to sandbox"):
        store.read("b" * 64)


@pytest.mark.parametrize("key", ["", "../escape", "a/b", ".hidden", "x" * 200])
def test_bad_keys_are_refused(store: FileCheckpointStore, key: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        store.read(key)
    assert info.value.field == "sandbox_id"


def test_decode_rejects_missing_fields() -> None:
    with pytest.raises(ValueError, match="checksum mismatch"):
        decode(b'{"version": 1, "checksum": "sha256:00", "data": {}}')


def test_list_is_kept_in_memory_from_the_directory_and_each_change(tmp_path: Path) -> None:
    """Listed once when the store is built (what a previous run left), then kept current by
    write, delete and moving a corrupt file aside; a file removed by hand is forgotten at its
    next read."""
    FileCheckpointStore(BackendContext(root_dir=tmp_path)).write(_checkpoint())
    store = FileCheckpointStore(BackendContext(root_dir=tmp_path))
    other, third = "b" * 64, "c" * 64
    store.write(_checkpoint(other))
    store.write(_checkpoint(third))
    assert store.list() == [SANDBOX, other, third]
    store.delete(other)
    (tmp_path / "checkpoints" / f"{third}.json").write_bytes(b"")
    with pytest.raises(NotFoundError, match="corrupt"):
        store.read(third)
    assert store.list() == [SANDBOX]
    (tmp_path / "checkpoints" / f"{SANDBOX}.json").unlink()
    with pytest.raises(NotFoundError):
        store.read(SANDBOX)
    assert store.list() == []
