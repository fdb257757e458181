"""EventBroadcaster: each subscriber sees events from its subscription on, and ends on close."""

from __future__ import annotations

import threading

from kubert import ContainerEvent, ContainerEventType, EventBroadcaster


def _event(n: int) -> ContainerEvent:
    return ContainerEvent(
        container_id=f"c{n}",
        container_event_type=ContainerEventType.CONTAINER_STARTED_EVENT,
        created_at=n,
    )


def test_subscribers_see_events_after_subscribing_and_end_on_close() -> None:
    hub = EventBroadcaster()
    assert not hub.has_subscribers
    hub.publish(_event(0))  # nobody listens: dropped
    first = hub.subscribe()
    hub.publish(_event(1))
    second = hub.subscribe()
    hub.publish(_event(2))
    hub.close()
    assert [e.container_id for e in first] == ["c1", "c2"]
    assert [e.container_id for e in second] == ["c2"]
    assert list(hub.subscribe()) == []


def test_a_subscriber_that_stops_reading_is_dropped() -> None:
    hub = EventBroadcaster()
    events = hub.subscribe()
    hub.publish(_event(1))
    assert next(events).container_id == "c1"
    events.close()  # the consumer went away (a client hung up)
    assert not hub.has_subscribers


def test_publish_from_another_thread_wakes_a_waiting_subscriber() -> None:
    hub = EventBroadcaster()
    events = hub.subscribe()
    publisher = threading.Thread(target=lambda: (hub.publish(_event(7)), hub.close()))
    publisher.start()
    assert [e.container_id for e in events] == ["c7"]
    publisher.join(timeout=5)
    assert not publisher.is_alive()
