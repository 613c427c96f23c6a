"""Batch step: entries gathered until the batch is full or its time is up.

A batch opens at its first entry and closes when it holds ``max_size`` entries or
``max_wait_s`` passed since it opened, whichever comes first: full batches under load
(fewer, larger transactions), bounded latency when the stream is quiet. Pure; the
clock is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from runtally.stream import Entry


@dataclass
class Batch:
    """Entries of one batch, in delivery order."""

    max_size: int
    max_wait_s: float
    entries: list[Entry] = field(default_factory=list)
    opened_at: float | None = None

    def add(self, entries: Iterable[Entry], now: float) -> None:
        """Append delivered entries (the caller never reads more than ``room``).

        The batch opens (``opened_at = now``) with its first entry.
        """
        held = len(self.entries)
        self.entries.extend(entries)
        if self.opened_at is None and len(self.entries) > held:
            self.opened_at = now

    @property
    def room(self) -> int:
        """How many more entries fit."""
        return max(0, self.max_size - len(self.entries))

    def remaining_s(self, now: float) -> float:
        """Seconds left before the batch must close (its full wait when still empty)."""
        if self.opened_at is None:
            return self.max_wait_s
        return max(0.0, self.opened_at + self.max_wait_s - now)

    def ready(self, now: float) -> bool:
        """Whether the batch must be processed now: full, or non-empty and out of time."""
        if not self.entries:
            return False
        return self.room == 0 or self.remaining_s(now) <= 0

    def __len__(self) -> int:
        return len(self.entries)
