"""Acknowledge step, the last of the chain and the only code that acknowledges entries.

Like arroyo's ``CommitOffsets``: it takes what the steps before settled and makes it
final in Redis. Stored entries are acknowledged (their rows committed before they got
here); given-up entries are dead-lettered, which acknowledges them in the same atomic
call. Entries in neither list stay pending and come back through ``claim_idle``. Then
the batch's entries leave the hand (``InHand.release``): settled, they are no longer
touched, so the ones left pending turn idle and can be reclaimed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from runtally.ingest.inhand import InHand
from runtally.ingest.metrics import IngestMetrics, reason_kind
from runtally.ingest.retry import RedisRetry
from runtally.stream import DeadLetter, Stream

log = logging.getLogger("runtally.ingest")


@dataclass
class Settled:
    """A persisted batch: ids whose rows committed (``new`` of them new), entries to bury,
    and ids left pending on purpose (to be reclaimed and tried again)."""

    stored: list[str] = field(default_factory=list)
    new: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    closed_at: float = 0.0


class Acknowledge:
    """Dead-letters, then acknowledges, each settled batch; counts what happened."""

    def __init__(
        self,
        stream: Stream,
        redis: RedisRetry,
        metrics: IngestMetrics,
        in_hand: InHand,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.redis, self.metrics = stream, redis, metrics
        self.in_hand, self.clock, self.monotonic = in_hand, clock, monotonic

    async def submit(self, item: Settled) -> None:
        dead, m = item.dead, self.metrics
        if dead:
            await self.redis(lambda: self.stream.dead_letter(dead, self.clock()))
            for letter in dead:
                m.dead.labels(reason_kind(letter.reason)).inc()
            log.warning("dead-lettered %d entries, e.g. %s: %s", len(dead), dead[0].entry.id,
                        dead[0].reason[:300])  # fmt: skip
        await self.redis(lambda: self.stream.ack(item.stored, item.new))
        self.in_hand.release([*item.stored, *item.left, *(d.entry.id for d in dead)])
        m.stored.inc(item.new)
        m.duplicates.inc(len(item.stored) - item.new)
        m.batches.inc()
        m.batch_seconds.observe(self.monotonic() - item.closed_at)

    async def join(self, timeout: float | None = None) -> None:
        """Nothing in hand: ``submit`` finishes its work before it returns."""

    async def close(self) -> None:
        """Nothing in hand to cancel."""
