"""atomic_write leaves the old or the new content, never a half file or a stray temp file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kubert import atomic_write


def test_creates_parents_replaces_content_and_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "record.json"
    atomic_write(target, "first")
    atomic_write(target, b"second", mode=0o640)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(target.parent) == ["record.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "record.json"
    atomic_write(target, "old")

    def disk_full(fd: int) -> None:  # fault injection: fsync fails as on a full disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["record.json"]
