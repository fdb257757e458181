"""Single-use tokens for streaming URLs: each names one cached request, lives a short while,
and is gone once a client presents it, as in the kubelet's request cache."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from kubert.errors import ResourceExhaustedError

__all__ = ["TokenCache"]

T = TypeVar("T")


class TokenCache(Generic[T]):
    """Maps fresh random tokens to requests until used or expired.

    :param ttl: seconds a token stays valid.
    :param max_pending: tokens handed out and not yet used or expired, at most.
    :param clock: monotonic seconds; tests pass their own to expire tokens without waiting.
    """

    def __init__(
        self, ttl: float, max_pending: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_pending
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def insert(self, request: T) -> str:
        """Cache ``request`` under a new token.

        :raises ResourceExhaustedError: ``max_pending`` tokens are outstanding.
        """
        with self._lock:
            self._expire()
            if len(self._entries) >= self._max:
                raise ResourceExhaustedError(
                    f"too many streaming requests pending: {len(self._entries)} tokens "
                    f"outstanding, the limit is {self._max}"
                )
            # 16 random bytes: unguessable for the token's short life, URL-safe as text.
            token = secrets.token_urlsafe(16)
            self._entries[token] = (self._clock() + self._ttl, request)
            return token

    def consume(self, token: str) -> T | None:
        """The request cached under ``token``, removed; None when unknown, used or expired."""
        with self._lock:
            self._expire()
            entry = self._entries.pop(token, None)
        return None if entry is None else entry[1]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._entries)

    def _expire(self) -> None:
        now = self._clock()
        # Entries are in insertion order and share one TTL, so expired ones come first.
        while self._entries:
            token, (deadline, _) = next(iter(self._entries.items()))
            if deadline > now:
                break
            del self._entries[token]
