"""Seconds spent per pipeline stage, added up across chunks and threads."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator


class StageTimer:
    """Accumulates wall seconds per named stage; stages may run on different threads."""

    def __init__(self, stages: tuple[str, ...] = ()) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(stages, 0.0)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        """Time the block and add it to `stage`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + elapsed
