"""Produce items on a background thread, a bounded number ahead, so reading overlaps computing."""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer has gone


def _put(slots: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put `item` once there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items` in order while a thread produces up to `depth` of them ahead; its errors are raised here."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not _put(slots, (True, item), stop):
                    return
            _put(slots, (False, None), stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(slots, (False, exc), stop)
        finally:
            getattr(source, "close", lambda: None)()  # a generator's cleanup (closing its file) runs now

    thread = threading.Thread(target=produce, name="scsmd-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            more, item = slots.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()
