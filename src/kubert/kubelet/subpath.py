"""A volume mount's ``subPath`` inside its volume: made when missing, refused when a symlink
(or anything else) would lead it outside the volume, as the kubelet refuses it."""

from __future__ import annotations

from pathlib import Path

from kubert.errors import InvalidArgumentError


def safe_subpath(volume: Path, sub_path: str) -> Path:
    """The real host path of ``sub_path`` in ``volume`` (created as a directory if missing).

    :raises InvalidArgumentError: when it resolves outside the volume (a symlink escape).
    """
    root = volume.resolve()
    target = (root / sub_path).resolve()
    if target != root and root not in target.parents:
        raise InvalidArgumentError(
            "volumeMounts.subPath", sub_path, f"resolves to {target}, outside its volume {root}"
        )
    if not target.exists():
        target.mkdir(parents=True, exist_ok=True)
        # a symlink raced in between: check the made path once more
        if root not in target.resolve().parents and target.resolve() != root:
            raise InvalidArgumentError(
                "volumeMounts.subPath", sub_path, "changed to leave its volume while made"
            )
    return target
