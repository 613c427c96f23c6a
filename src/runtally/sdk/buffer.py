"""The publisher's bounded buffer and its block/drop policy: pure, clocked, thread-safe.

No I/O, no asyncio, no logging: the ``Publisher`` turns what these answer into waits,
wake-ups and log lines. Time comes from an injected clock (monotonic seconds), so tests
drive it by hand.

- ``EventBuffer`` holds encoded events waiting plus the batch in flight, at most
  ``capacity`` together. ``offer`` answers with flags: ``FULL``, ``CLOSED``, or
  ``ACCEPTED`` with ``WAKE`` (the sender had gone idle) and ``WARN`` (the fill just
  crossed ``PRESSURE_WARN``; said once until it drained below ``PRESSURE_REARM``).
- ``room_wait`` is the full-buffer policy: how long to wait for room, or drop now.
- ``DropTally`` counts drops and says when to report them (summarised per interval).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from typing import Final

from runtally.sdk.options import OnFull

Clock = Callable[[], float]

# The answers of ``EventBuffer.offer`` (plain int flags: the check is on every publish).
FULL: Final = 0  # no room: the on_full policy decides (nothing is counted yet)
ACCEPTED: Final = 1  # the event is in the buffer
WAKE: Final = 2  # accepted, and the sender had gone idle: wake it
WARN: Final = 4  # accepted, and the fill just crossed PRESSURE_WARN: say so once
CLOSED: Final = 8  # refused: the buffer is closed

PRESSURE_WARN = 0.8  # warn when the buffer is this full...
PRESSURE_REARM = 0.5  # ...and again only after it drained below this
DROP_LOG_INTERVAL_S = 5.0  # drops are reported at most this often
WAIT_SLICE_S = 0.5  # a blocked publish looks again at least this often


class EventBuffer:
    """Encoded events waiting, plus the batch in flight; at most ``capacity`` together.

    Agents in any thread ``offer``; the sender ``take``s the batch in flight (the same
    one until it is ``confirm``ed, so a retry resends exactly it) and ``confirm``s it.
    """

    __slots__ = (
        "_idle", "_inflight", "_lock", "_rearm_at", "_room", "_waiting", "_warn_at",
        "_warned", "capacity", "closed", "confirmed",
    )  # fmt: skip

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.closed = False
        self.confirmed = 0  # events confirmed by Redis in total
        self._warn_at = capacity * PRESSURE_WARN
        self._rearm_at = capacity * PRESSURE_REARM
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._waiting: deque[str] = deque()
        self._inflight: list[str] = []
        self._idle = False
        self._warned = False

    def __len__(self) -> int:
        """Events accepted and not yet confirmed (waiting or in flight)."""
        return len(self._waiting) + len(self._inflight)

    @property
    def pressure(self) -> float:
        """Fill ratio, 0.0 (empty) to 1.0 (full: the policy applies)."""
        return len(self) / self.capacity

    def offer(self, payload: str) -> int:
        """Append ``payload`` when there is room: ``ACCEPTED`` (maybe ``| WAKE | WARN``),
        else ``FULL`` or ``CLOSED``."""
        if self.closed:
            return CLOSED
        with self._lock:
            size = len(self._waiting) + len(self._inflight) + 1
            if size > self.capacity:
                return FULL
            self._waiting.append(payload)
            answer = ACCEPTED
            if self._idle:
                self._idle = False
                answer |= WAKE
            if size >= self._warn_at and not self._warned:
                self._warned = True
                answer |= WARN
        return answer

    def take(self, max_count: int) -> list[str]:
        """The batch in flight: the unconfirmed one again, else up to ``max_count`` waiting
        events. Empty means idle: the next offer answers ``WAKE``."""
        with self._lock:
            if self._inflight:
                return self._inflight
            if not self._waiting:
                self._idle = True
                return self._inflight
            popleft = self._waiting.popleft
            self._inflight = [popleft() for _ in range(min(max_count, len(self._waiting)))]
            return self._inflight

    def confirm(self) -> int:
        """The batch in flight is in Redis: free its room, wake blocked threads. Its size."""
        with self._lock:
            count = len(self._inflight)
            self.confirmed += count
            self._inflight = []
            if len(self._waiting) < self._rearm_at:
                self._warned = False
            self._room.notify_all()
        return count

    def wait_for_room(self, timeout: float) -> None:
        """Block this thread until a confirm may have made room, at most ``timeout`` s."""
        with self._room:
            if len(self._waiting) + len(self._inflight) >= self.capacity:
                self._room.wait(timeout)

    def close(self) -> None:
        """Refuse every offer from now on (what is buffered stays until cleared)."""
        self.closed = True

    def clear(self) -> int:
        """Discard everything buffered; returns how many events that was."""
        with self._lock:
            count = len(self._waiting) + len(self._inflight)
            self._waiting.clear()
            self._inflight = []
        return count


def deadline(timeout: float | None, now: float) -> float | None:
    """When a blocked publish gives up: ``timeout`` seconds from ``now`` (None: never)."""
    return None if timeout is None else now + timeout


def room_wait(on_full: OnFull, until: float | None, now: float) -> float:
    """The full-buffer policy: seconds to wait for room before offering again.

    ``drop`` never waits; ``block`` waits in slices of ``WAIT_SLICE_S`` until ``until``
    (None: forever). A result <= 0 means drop the event now.
    """
    if on_full == "drop":
        return 0.0
    if until is None:
        return WAIT_SLICE_S
    return min(until - now, WAIT_SLICE_S)


class DropTally:
    """Counts dropped events and says when to report them: at most once per interval, so
    a flood of drops is one summary line, and never silent."""

    __slots__ = ("_clock", "_interval_s", "_lock", "_report_at", "_unreported", "total")

    def __init__(self, clock: Clock, interval_s: float = DROP_LOG_INTERVAL_S) -> None:
        self.total = 0
        self._clock = clock
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._report_at = -math.inf
        self._unreported = 0

    def add(self, count: int, *, report_now: bool = False) -> int:
        """Count ``count`` drops. Returns how many to report now (every drop since the last
        report), or 0 while the interval since the last report runs."""
        with self._lock:
            self.total += count
            self._unreported += count
            now = self._clock()
            if now < self._report_at and not report_now:
                return 0
            unreported, self._unreported = self._unreported, 0
            self._report_at = now + self._interval_s
        return unreported
