"""UUIDv7 event ids (RFC 9562), monotonic within a process, as canonical text.

Layout (most significant first): 48 bits unix time in ms, 4 bits version (7), 12 bits
``rand_a`` used as a counter (RFC 9562 §6.2 method 1), 2 bits variant (``10``), 62 bits
random from ``os.urandom``. Within one millisecond the counter increments, starting from
a random value below 2**11 so there is room to count; if it still overflows, the time
field advances by one ms (the RFC's permitted "borrow from the future"). Ids made in one
process therefore sort strictly in creation order, even if the wall clock steps back.

Written by hand because the id is made on every tracked run: this is several times
cheaper than ``uuid6.uuid7()`` (no ``SystemRandom`` big ints, no ``UUID`` object).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_COUNTER_MAX = 0xFFF
_COUNTER_SEED_BITS = 11
_MS_MASK = (1 << 48) - 1
_POOL_BYTES = 512


def _clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Uuid7:
    """A source of UUIDv7 values, strictly increasing; thread-safe.

    ``clock_ms`` (unix time in ms) and ``random_bytes`` are injected for tests. Random
    bytes are drawn ``_POOL_BYTES`` at a time (one syscall per 64 ids); a forked child
    must call ``forget`` (the module default does so by itself) or it would repeat its
    parent's bytes.
    """

    __slots__ = ("_clock_ms", "_counter", "_last_ms", "_lock", "_pool", "_pos", "_random")

    def __init__(
        self,
        clock_ms: Callable[[], int] = _clock_ms,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock_ms = clock_ms
        self._random = random_bytes
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0
        self._pool = b""
        self._pos = 0

    def forget(self) -> None:
        """Drop the unused random bytes (after ``fork``: the parent has them too).

        Runs in the child right after ``fork``: the lock is replaced, not taken, since
        a thread of the parent may have held it at the fork.
        """
        self._lock = threading.Lock()
        self._pool = b""
        self._pos = 0

    def _draw(self) -> int:
        """Eight fresh random bytes as an int; ``_lock`` held."""
        pos = self._pos
        if pos >= len(self._pool):
            self._pool = self._random(_POOL_BYTES)
            pos = 0
        self._pos = pos + 8
        return int.from_bytes(self._pool[pos : pos + 8], "big")

    def _next_stamp(self, now_ms: int) -> tuple[int, int]:
        """(ms, counter) strictly greater than the previous pair; ``_lock`` held."""
        if now_ms > self._last_ms:
            self._last_ms = now_ms
            self._counter = self._draw() >> (64 - _COUNTER_SEED_BITS)
        elif self._counter < _COUNTER_MAX:
            self._counter += 1
        else:  # counter exhausted (or the clock stepped back): borrow the next ms
            self._last_ms += 1
            self._counter = 0
        return self._last_ms, self._counter

    def next_int(self) -> int:
        """The next UUIDv7 as a 128-bit int."""
        now_ms = self._clock_ms()
        with self._lock:
            ms, counter = self._next_stamp(now_ms)
            rand_b = self._draw() >> 2
        return (ms & _MS_MASK) << 80 | _VERSION | counter << 64 | _VARIANT | rand_b

    def next(self) -> str:
        """The next UUIDv7 in canonical 8-4-4-4-12 lowercase hex form."""
        h = f"{self.next_int():032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_default = Uuid7()
os.register_at_fork(after_in_child=_default.forget)
#: The next process-wide UUIDv7 as text (ids from one process sort in creation order).
uuid7 = _default.next
