"""An injectable clock, so backoff and probe timing are testable without sleeping."""

from __future__ import annotations

import time
from typing import Protocol

from attrs import define


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock just moves on)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


@define
class FakeClock:
    """A clock that moves only when told to (``advance`` or ``sleep``)."""

    current: float = 1_700_000_000.0

    def now(self) -> float:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += max(0.0, seconds)
