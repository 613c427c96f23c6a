"""Read step, the source of the chain: batches of new and reclaimed entries, plus chores.

A batch is gathered until it is full, its time is up, or a stop is asked for
(``ingest.batch``). When due, entries idle in the group (a dead consumer's, or ours that
failed) are reclaimed into the batch, and the stream is trimmed below what every group
acknowledged. Every entry read or reclaimed is put in hand (``ingest.inhand``) until
``Acknowledge`` settles it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from runtally.config import Settings
from runtally.ingest.batch import Batch
from runtally.ingest.inhand import InHand
from runtally.ingest.metrics import IngestMetrics
from runtally.ingest.retry import RedisRetry
from runtally.stream import Entry, Stream

log = logging.getLogger("runtally.ingest")


@dataclass
class Timers:
    """When the periodic chores are next due (monotonic seconds)."""

    claim_at: float = 0.0
    trim_at: float = 0.0


class Reader:
    """Gathers batches from ``stream`` for one consumer."""

    def __init__(
        self,
        settings: Settings,
        stream: Stream,
        redis: RedisRetry,
        metrics: IngestMetrics,
        in_hand: InHand,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.stream, self.redis = settings, stream, redis
        self.metrics, self.in_hand, self.monotonic = metrics, in_hand, monotonic
        self.timers = Timers()

    async def start(self) -> None:
        """Make sure the consumer group exists."""
        await self.redis(self.stream.ensure_group)

    async def gather(self, stop: asyncio.Event) -> list[Entry]:
        """Entries until the batch is full, its time is up, or ``stop`` is set.

        Empty after a whole wait with nothing to read.
        """
        s = self.settings
        batch = Batch(s.batch_size, s.batch_timeout_ms / 1000)
        while not stop.is_set() and not batch.ready(self.monotonic()):
            await self._chores(batch)
            if batch.ready(self.monotonic()):
                break
            block_ms = max(1, math.ceil(batch.remaining_s(self.monotonic()) * 1000))
            entries = await self.redis(partial(self.stream.read, batch.room, block_ms))
            self.in_hand.hold(e.id for e in entries)
            batch.add(entries, self.monotonic())
            if not batch.entries:
                break
        return batch.entries

    async def _chores(self, batch: Batch) -> None:
        """Reclaim idle entries into ``batch`` and trim the stream, when due."""
        now = self.monotonic()
        if now >= self.timers.claim_at and batch.room:
            self.timers.claim_at = now + self.settings.claim_interval_s
            await self._claim(batch)
        if now >= self.timers.trim_at:
            self.timers.trim_at = now + self.settings.trim_interval_s
            await self.redis(self._trim)

    async def _claim(self, batch: Batch) -> None:
        # Our own entries in hand are skipped: they are being worked on, not abandoned.
        claim = partial(
            self.stream.claim_idle, self.settings.claim_idle_ms, batch.room, self.in_hand.ids
        )
        claimed = await self.redis(claim)
        self.in_hand.hold(e.id for e in claimed)
        if claimed:
            self.metrics.claimed.inc(len(claimed))
            log.info("reclaimed %d idle entries", len(claimed))
            batch.add(claimed, self.monotonic())

    async def _trim(self) -> None:
        self.metrics.trimmed.inc(await self.stream.trim())
        lag, pending = await self.stream.lag()
        if lag is not None:
            self.metrics.lag.set(lag)
        self.metrics.pending.set(pending)
