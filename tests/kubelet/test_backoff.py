"""CrashLoopBackOff arithmetic: 10 s doubling to 5 min, reset after 10 quiet minutes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubert.kubelet import Backoff, FakeClock


def test_first_failure_may_retry_after_ten_seconds() -> None:
    clock = FakeClock()
    backoff = Backoff(clock=clock)
    assert not backoff.in_backoff_since("c", clock.now())
    backoff.next("c", clock.now())
    assert backoff.in_backoff_since("c", clock.now())
    clock.advance(9.9)
    assert backoff.in_backoff_since("c", clock.now() - 9.9)
    clock.advance(0.2)
    assert not backoff.in_backoff_since("c", clock.now() - 10.1)


@given(st.integers(1, 12))
def test_delay_doubles_up_to_five_minutes(failures: int) -> None:
    clock = FakeClock()
    backoff = Backoff(clock=clock)
    delay = 0.0
    for _ in range(failures):
        delay = backoff.next("c", clock.now())
        clock.advance(delay)
    assert delay == min(10.0 * 2 ** (failures - 1), 300.0)


@given(st.integers(2, 8), st.floats(0, 1500))
def test_reset_only_after_twice_the_maximum_quiet(failures: int, quiet: float) -> None:
    clock = FakeClock()
    backoff = Backoff(clock=clock)
    for index in range(failures):
        delay = backoff.next("c", clock.now())
        if index < failures - 1:
            clock.advance(delay)
    before = backoff.get("c")
    clock.advance(quiet)  # measured from the last failure
    after = backoff.next("c", clock.now())
    if quiet > 600:
        assert after == 10.0
    else:
        assert after == min(before * 2, 300.0)


def test_keys_are_independent() -> None:
    clock = FakeClock()
    backoff = Backoff(clock=clock)
    backoff.next("a", clock.now())
    assert not backoff.in_backoff_since("b", clock.now())
