"""Per-sandbox locks: operations on one sandbox run one at a time, other sandboxes in parallel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SandboxLocks:
    """A lock per sandbox ID, created on first use and dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, sandbox_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(sandbox_id, (threading.Lock(), 0))
            self._locks[sandbox_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[sandbox_id]
                if users == 1:
                    del self._locks[sandbox_id]
                else:
                    self._locks[sandbox_id] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)
