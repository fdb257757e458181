"""Exponential backoff per key, with the kubelet's rules (its flowcontrol.Backoff).

CrashLoopBackOff uses 10 s doubling to 5 min; an entry is forgotten when its key has been quiet
for twice the maximum (10 min), which is how a container that ran long enough starts over at
10 s. Image pulls use the same class with their own key (pod uid + image).
"""

from __future__ import annotations

from attrs import define, field

from kubert.kubelet.clock import Clock, SystemClock

CONTAINER_BACKOFF_INITIAL = 10.0
CONTAINER_BACKOFF_MAX = 300.0
IMAGE_BACKOFF_INITIAL = 10.0
IMAGE_BACKOFF_MAX = 300.0


@define
class _Entry:
    backoff: float
    last_update: float


@define
class Backoff:
    """Per-key delays that double on each failure up to ``maximum``.

    :param initial: the first delay, seconds.
    :param maximum: the cap, seconds; an entry idle for twice this long is reset.
    :param clock: where "now" comes from.
    """

    initial: float = CONTAINER_BACKOFF_INITIAL
    maximum: float = CONTAINER_BACKOFF_MAX
    clock: Clock = field(factory=SystemClock)
    _entries: dict[str, _Entry] = field(factory=dict, init=False)

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def next(self, key: str, event_time: float) -> float:
        """Record a failure of ``key`` at ``event_time``; returns the delay now in force."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = _Entry(backoff=self.initial, last_update=event_time)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = event_time
        self._entries[key] = entry
        return entry.backoff

    def get(self, key: str) -> float:
        """The delay in force for ``key`` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until ``key`` may retry after a failure at ``event_time``; 0 when it may now."""
        entry = self._entries.get(key)
        now = self.clock.now()
        if entry is None or self._expired(now, entry):
            return 0.0
        return max(0.0, entry.backoff - (now - event_time))

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Whether a retry of ``key`` after a failure at ``event_time`` must still wait."""
        return self.remaining(key, event_time) > 0

    def in_backoff_since_update(self, key: str) -> bool:
        """Whether ``key`` must still wait, counting from its last recorded failure."""
        entry = self._entries.get(key)
        return entry is not None and self.remaining(key, entry.last_update) > 0

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        """Forget entries quiet for longer than twice the maximum."""
        now = self.clock.now()
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]
