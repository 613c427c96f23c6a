"""One consumer of the group: the chain ``read → Prepare → Persist → Acknowledge``.

Rules the chain keeps (DESIGN.md, "Guarantees"):

* Only ids of rows that committed are acknowledged (``Acknowledge``, the last step and
  the only code that acknowledges); an entry Postgres could not take stays pending until
  it is stored or given up on (dead-lettered).
* Undecodable entries are dead-lettered at once with the reason; the rest of the batch
  is stored.
* An unreachable edge is retried with backoff; the loop never dies of it.
* Backpressure: while batches are being stored the next one is gathered and decoded, and
  no further; a slow Postgres slows reading down instead of growing memory.
* Entries in hand (read, not yet settled) are never reclaimed by this consumer and are
  touched by a heartbeat (``InHand``), so no consumer redelivers them however long
  storing takes; only settled-but-unstored entries turn idle and come back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from runtally.config import Settings
from runtally.ingest.acknowledge import Acknowledge
from runtally.ingest.inhand import InHand
from runtally.ingest.metrics import IngestMetrics
from runtally.ingest.persist import Persist
from runtally.ingest.prepare import Prepare
from runtally.ingest.pricer import Pricer
from runtally.ingest.read import Reader
from runtally.ingest.retry import RedisRetry
from runtally.ingest.store import BatchStore
from runtally.stream import Stream


def utc_now() -> datetime:
    return datetime.now(UTC)


class Consumer:
    """One consumer of the group. Drive it with ``run(stop)`` or ``run_until_idle()``."""

    def __init__(
        self,
        settings: Settings,
        stream: Stream,
        store: BatchStore,
        prices: Pricer,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics or IngestMetrics()
        redis = RedisRetry(stream, settings.retry_backoff_max_s, self.metrics)
        self.in_hand = InHand(stream, settings.claim_idle_ms)
        acknowledge = Acknowledge(stream, redis, self.metrics, self.in_hand, clock, monotonic)
        persist = Persist(settings, store, self.metrics, acknowledge)
        self.head = Prepare(settings, prices, persist, clock, monotonic)
        self.reader = Reader(settings, stream, redis, self.metrics, self.in_hand, monotonic)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain the batches in hand and return.

        Cancelled (the shutdown grace is over), it cancels the batches in hand: their
        entries stay pending, nothing unstored was acknowledged.
        """
        await self._loop(stop, until_idle=False)

    async def run_until_idle(self) -> None:
        """Consume until one batch wait passes with nothing to read (for tests, benches)."""
        await self._loop(asyncio.Event(), until_idle=True)

    async def _loop(self, stop: asyncio.Event, until_idle: bool) -> None:
        await self.reader.start()
        try:
            async with self.in_hand.heartbeat():
                while not stop.is_set():
                    entries = await self.reader.gather(stop)
                    if entries:
                        await self.head.submit(entries)
                    elif until_idle:
                        break
                await self.head.join()
        finally:
            await self.head.close()
