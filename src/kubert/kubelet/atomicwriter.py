"""Write a volume's files so a reader sees the old set or the new set, never a mix: the
kubelet's atomic writer (pkg/volume/util/atomic_writer.go).

The files live in a timestamped directory ``..<time>.<random>``; ``..data`` is a symlink to
the current one and every top-level name of the volume is a symlink through ``..data``. An
update writes a new timestamped directory, swaps ``..data`` by renaming a fresh symlink over
it (one atomic rename), adds new top-level links, then removes the old directory and the links
of names that are gone. Containers bind-mount the volume directory, so they see the swap.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"
DATA_TMP = "..data_tmp"

#: A volume's content: relative path -> (bytes, file mode).
Payload = Mapping[str, tuple[bytes, int]]


def current(directory: Path) -> dict[str, tuple[bytes, int]] | None:
    """What the volume holds now (through ``..data``); None when it was never written."""
    data = directory / DATA
    if not data.is_symlink():
        return None
    base = directory / os.readlink(data)
    out: dict[str, tuple[bytes, int]] = {}
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(base))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return out


def write(directory: Path, payload: Payload) -> bool:
    """Make ``directory`` hold exactly ``payload``. :returns: whether anything changed."""
    directory.mkdir(parents=True, exist_ok=True)
    if current(directory) == dict(payload):
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new = Path(tempfile.mkdtemp(prefix=stamp, dir=directory))
    new.chmod(0o755)
    for rel, (content, mode) in payload.items():
        target = new / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    old = os.readlink(directory / DATA) if (directory / DATA).is_symlink() else ""
    tmp = directory / DATA_TMP
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(new.name)
    os.replace(tmp, directory / DATA)
    top = {rel.split("/", 1)[0] for rel in payload}
    for name in sorted(top):
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{name}")
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and entry.name not in top:
            entry.unlink()
    if old:
        shutil.rmtree(directory / old, ignore_errors=True)
    return True
