import threading
import time

from avatar_app.core.slots import LatestSlot


def test_consumer_gets_newest_and_stale_values_are_counted_as_dropped():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0) is None


def test_take_waits_for_a_producer():
    slot = LatestSlot()
    threading.Timer(0.05, slot.put, args=("frame",)).start()
    assert slot.take(timeout=5) == "frame"


def test_close_wakes_waiting_consumer():
    slot = LatestSlot()
    t0 = time.monotonic()
    threading.Timer(0.05, slot.close).start()
    assert slot.take(timeout=5) is None
    assert time.monotonic() - t0 < 4
    assert slot.closed
