"""One worker per pod, across processes: a sync or delete of a pod holds its lock file.

The kubelet's pod workers run one sync of a pod at a time. kubert's syncs come from more than one
process (``kubert apply`` and ``kubert kubelet``), so the lock is an advisory ``flock`` on
``<root_dir>/locks/<uid>.lock``. An flock belongs to an open file description, so two threads of
one process exclude each other too. The same thread may take a pod's lock again (a delete from
inside a sync's hook) without blocking itself.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kubert.errors import InvalidArgumentError

_held = threading.local()


def lock_path(root_dir: Path, uid: str) -> Path:
    """The lock file of pod ``uid`` under the kubelet root ``root_dir``."""
    if not uid or "/" in uid or uid in (".", ".."):
        raise InvalidArgumentError("metadata.uid", uid, "cannot name a lock file")
    return Path(root_dir) / "locks" / f"{uid}.lock"


@contextmanager
def pod_lock(root_dir: Path, uid: str) -> Iterator[None]:
    """Hold pod ``uid``'s lock for the ``with`` block, waiting while another worker has it."""
    path = lock_path(root_dir, uid)
    held: set[str] = _held.__dict__.setdefault("uids", set())
    key = str(path)
    if key in held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
