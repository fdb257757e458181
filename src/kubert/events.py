"""EventBroadcaster: fans a backend's container events out to every open GetContainerEvents.

Runtime backends publish each lifecycle event once; every ``container_events()`` iterator
gets its own queue, sees the events from the moment it subscribed, and ends when the
broadcaster closes (the backend closes).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from kubert.model import ContainerEvent

_CLOSED = object()


class EventBroadcaster:
    """Thread-safe fan-out of :class:`~kubert.ContainerEvent` to subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[queue.SimpleQueue[object]] = []
        self._closed = False

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone listens; lets a backend skip building events nobody reads."""
        return bool(self._subscribers)

    def publish(self, event: ContainerEvent) -> None:
        """Hand ``event`` to every current subscriber (never blocks)."""
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.put(event)

    def subscribe(self) -> Iterator[ContainerEvent]:
        """Events from now on; the iterator ends when :meth:`close` is called."""
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        with self._lock:
            if self._closed:
                return iter(())
            self._subscribers.append(inbox)
        return self._drain(inbox)

    def close(self) -> None:
        """End every subscriber's iterator; later subscriptions are empty."""
        with self._lock:
            self._closed = True
            for subscriber in self._subscribers:
                subscriber.put(_CLOSED)
            self._subscribers.clear()

    def _drain(self, inbox: queue.SimpleQueue[object]) -> Iterator[ContainerEvent]:
        try:
            while True:
                item = inbox.get()
                if item is _CLOSED:
                    return
                assert isinstance(item, ContainerEvent)
                yield item
        finally:
            with self._lock:
                if inbox in self._subscribers:
                    self._subscribers.remove(inbox)
