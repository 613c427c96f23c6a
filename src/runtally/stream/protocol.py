"""The ``Stream`` protocol: everything ingest asks of the run-event stream.

One consumer of one group sees the stream through it, so the at-least-once rules live in
one place and hold for every implementation (``EventStream`` on Redis, ``MemoryStream``
in memory; one contract test suite runs against both):

* an entry leaves the group's pending list only through ``ack`` (after its rows
  committed) or ``dead_letter`` (after its dead-letter copy is written, atomically);
* entries of dead consumers come back through ``claim_idle`` with their delivery count;
* ``trim`` removes only entries every group has acknowledged.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from runtally.stream.entries import DeadLetter, Entry


class Stream(Protocol):
    """The run-event stream seen by one consumer of the group."""

    async def ensure_group(self) -> bool:
        """Create the group (from the start of the stream) unless it exists; True if created."""
        ...

    async def read(self, count: int, block_ms: int | None) -> list[Entry]:
        """Up to ``count`` never-delivered entries, waiting at most ``block_ms`` for one."""
        ...

    async def claim_idle(
        self, min_idle_ms: int, count: int, skip: Collection[str] = ()
    ) -> list[Entry]:
        """Take over pending entries idle for ``min_idle_ms``, except ``skip``; a delivery.

        ``skip`` holds the ids this consumer has in hand: they are never claimed, so
        their delivery count does not grow while they are being worked on.
        """
        ...

    async def touch(self, ids: Sequence[str]) -> None:
        """Reset the idle time of our pending ``ids`` without counting a delivery."""
        ...

    async def ack(self, ids: Sequence[str], stored: int) -> int:
        """Acknowledge ``ids`` and add ``stored`` to the ``ingested`` counter, atomically."""
        ...

    async def dead_letter(self, letters: Sequence[DeadLetter], now: datetime) -> int:
        """Copy each still-pending entry to the dead stream and acknowledge it, atomically."""
        ...

    async def trim(self) -> int:
        """Remove entries below what every group has acknowledged; returns how many."""
        ...

    async def lag(self) -> tuple[int | None, int]:
        """(entries not yet delivered to our group or None if unknown, entries pending)."""
        ...
