"""LatestSlot: newest value wins, stale ones are counted, waiting consumers are woken."""

import threading

from avatar_app.core.slots import LatestSlot

from helpers import wait_until


def test_consumer_gets_newest_and_stale_values_are_counted_as_dropped():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0) is None


def _consumer(slot: LatestSlot) -> tuple[threading.Thread, list]:
    """A thread blocked in ``slot.take()`` with no timeout: only put() or close() can end it."""
    got = []
    thread = threading.Thread(target=lambda: got.append(slot.take(timeout=None)), name="slot-consumer", daemon=True)
    thread.start()
    assert wait_until(lambda: slot.waiting == 1), "the consumer should be waiting in take()"
    return thread, got


def test_take_waits_for_a_producer():
    slot = LatestSlot()
    thread, got = _consumer(slot)
    assert got == [] and thread.is_alive(), "take() with nothing in the slot waits"
    slot.put("frame")
    thread.join(10)  # a guard against a hang, not a speed check
    assert not thread.is_alive() and got == ["frame"]
    assert slot.waiting == 0


def test_close_wakes_waiting_consumer():
    slot = LatestSlot()
    thread, got = _consumer(slot)
    slot.close()
    thread.join(10)
    assert not thread.is_alive(), "close() must wake a consumer that waits without a timeout"
    assert got == [None] and slot.closed
