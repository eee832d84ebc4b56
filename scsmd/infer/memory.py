"""Keep a streaming process's memory flat: hand large freed buffers back to the operating system at once."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
MMAP_THRESHOLD = 1 << 20  # bytes; buffers from 1 MiB up get their own mapping, unmapped when freed


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold so chunk-sized buffers are unmapped when freed; True where it took effect.

    glibc raises the threshold each time a large mapped buffer is freed, so after a few chunks their buffers come
    from the heap, which does not shrink: peak memory then creeps up with the number of chunks read. A fixed
    threshold stops that (measured in bench/README.md). Elsewhere than glibc this does nothing.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError, TypeError):
        log.debug("mallopt unavailable (%s); memory may creep up over many chunks", name)
        return False
