import threading

import pytest

from scsmd.infer.prefetch import prefetch
from scsmd.infer.timing import StageTimer


def test_items_come_in_order_and_at_most_depth_ahead():
    produced = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    seen = []
    for item in prefetch(items(), depth=2):
        assert len(produced) - len(seen) <= 2 + 2  # the queue, one being put, one being consumed
        seen.append(item)
    assert seen == list(range(20))


def test_producer_error_is_raised_in_the_consumer():
    def items():
        yield 1
        raise ValueError("bad chunk")

    with pytest.raises(ValueError, match="bad chunk"):
        list(prefetch(items()))


def test_stopping_early_ends_the_thread_and_closes_the_source():
    closed = threading.Event()

    def items():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    for item in prefetch(items()):
        if item == 3:
            break
    assert threading.active_count() == before
    assert closed.wait(5)


def test_stage_timer_adds_up_per_stage():
    timer = StageTimer(("read", "encode"))
    for _ in range(3):
        with timer("read"):
            pass
    assert set(timer.seconds) == {"read", "encode"} and timer.seconds["encode"] == 0.0 and timer.seconds["read"] >= 0
