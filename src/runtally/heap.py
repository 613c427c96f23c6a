"""Freed heap memory kept for the process's next use (glibc's ``mallopt``).

An answer of the read API allocates numpy temporaries of a few hundred kB to a few MB
(a breakdown's packed bins and their decoded keys and counts, a series' dense percentile
matrix). glibc serves an allocation at or above its mmap threshold with a fresh
``mmap`` and unmaps it when it is freed. Its dynamic threshold only rises to the size
last freed, so the next allocation of that size is mapped afresh, and each of its pages
costs a page fault on first touch. Decoding a breakdown's 790 kB of packed bins took
418 faults and 0.92 ms per call; with the thresholds below, no fault and 0.07 ms.

The thresholds keep allocations under 32 MiB on the heap, and return its free top to
the OS only beyond 128 MiB: a long-lived process keeps up to that much freed memory for
its next answers instead of mapping it again.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# Parameter numbers of glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Set this process's mmap and trim thresholds to the values above. ``False`` when
    the C library has no ``mallopt`` (not glibc) or refuses a value: the process then
    keeps the library's defaults."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
