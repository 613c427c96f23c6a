"""Entries in hand: read (or reclaimed) by this consumer and not yet settled.

From the moment the reader gets an entry until ``Acknowledge`` settles it (acknowledged,
dead-lettered, or deliberately left pending for a later try), the entry is *in hand*.
Two rules keep an entry in hand from being delivered again while it is being worked on,
which would count a delivery that never failed (a poison entry would then die as
"delivered N+1 times"):

* this consumer never reclaims its own in-hand entries (the reader passes ``ids`` as
  ``skip`` to ``Stream.claim_idle``);
* a heartbeat touches every in-hand entry (``Stream.touch``: XCLAIM JUSTID, which counts
  no delivery) more often than ``claim_idle_ms``, so no other consumer sees it idle,
  however long Postgres takes or stays away. This is the only place entries are touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable

from redis.exceptions import RedisError

from runtally.stream import Stream

log = logging.getLogger("runtally.ingest")

# Touches per claim_idle_ms: one late or failed touch still leaves the entry fresh.
TOUCHES_PER_IDLE = 3
# Ids per XCLAIM call, so one touch never blocks Redis for long.
TOUCH_CHUNK = 2000


class InHand:
    """The ids this consumer holds, and the heartbeat that keeps them from looking idle."""

    def __init__(self, stream: Stream, claim_idle_ms: int) -> None:
        self.stream = stream
        self.interval_s = claim_idle_ms / 1000 / TOUCHES_PER_IDLE
        self.ids: set[str] = set()

    def hold(self, ids: Iterable[str]) -> None:
        """Entries just read or reclaimed are in hand."""
        self.ids.update(ids)

    def release(self, ids: Iterable[str]) -> None:
        """Entries settled: acknowledged, dead-lettered, or left pending on purpose."""
        self.ids.difference_update(ids)

    async def touch(self) -> None:
        """Reset the idle time of every entry in hand; best effort (retried next beat)."""
        held = list(self.ids)
        try:
            for start in range(0, len(held), TOUCH_CHUNK):
                await self.stream.touch(held[start : start + TOUCH_CHUNK])
        except RedisError as exc:
            log.warning("could not touch %d entries in hand: %s", len(held), exc)

    async def beat(self) -> None:
        """Touch the entries in hand every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            if self.ids:
                await self.touch()

    @contextlib.asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[None]:
        """Run ``beat`` in the background for the duration of the block."""
        task = asyncio.create_task(self.beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
