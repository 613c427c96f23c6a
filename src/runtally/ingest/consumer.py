"""The ingest loop: gather a batch → decode → store → acknowledge, one batch in flight.

Rules this module keeps (DESIGN.md, "Guarantees"):

* Only ids of rows that committed are acknowledged; an entry Postgres could not take
  stays pending until it is stored or given up on (dead-lettered).
* Undecodable entries are dead-lettered at once with the reason; the rest of the batch
  is stored.
* An unreachable edge is retried with backoff; the loop never dies of it.
* Backpressure: while one batch is being stored the next one is gathered and decoded,
  and no further; a slow Postgres slows reading down instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from redis.exceptions import RedisError, ResponseError

from runtally.backoff import Backoff
from runtally.config import Settings
from runtally.ingest.batch import Batch
from runtally.ingest.decode import Rejection, Window, decode_entry
from runtally.ingest.metrics import IngestMetrics, reason_kind
from runtally.ingest.store import BatchStore, Isolated, Pricer, StoreUnavailable, priced_record
from runtally.store.writes import RunRecord
from runtally.stream import DeadLetter, Entry, EventStream

log = logging.getLogger("runtally.ingest")
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Prepared:
    """A decoded batch: rows to store (with their entries) and entries to dead-letter."""

    records: list[RunRecord] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)
    closed_at: float = 0.0


@dataclass
class Timers:
    """When the periodic chores are next due (monotonic seconds)."""

    claim_at: float = 0.0
    trim_at: float = 0.0


class Consumer:
    """One consumer of the group. Drive it with ``run(stop)`` or ``run_until_idle()``."""

    def __init__(
        self,
        settings: Settings,
        stream: EventStream,
        store: BatchStore,
        prices: Pricer,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.store = store
        self.prices = prices
        self.metrics = metrics or IngestMetrics()
        self.clock = clock
        self.monotonic = monotonic
        self.timers = Timers()

    # ----------------------------------------------------------------- the loop

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then drain the batches in hand and return."""
        await self._loop(stop, until_idle=False)

    async def run_until_idle(self) -> None:
        """Consume until one batch wait passes with nothing to read (for tests, benches)."""
        await self._loop(asyncio.Event(), until_idle=True)

    async def _loop(self, stop: asyncio.Event, until_idle: bool) -> None:
        await self._redis(self.stream.ensure_group)
        inflight: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                batch = await self._gather(stop)
                if not batch.entries:
                    if until_idle:
                        break
                    continue
                prepared = self.prepare(batch.entries)
                # Backpressure: at most store_concurrency batches stored at once.
                while len(inflight) >= self.settings.store_concurrency:
                    await self._reap(inflight, asyncio.FIRST_COMPLETED)
                inflight.add(asyncio.create_task(self.finish(prepared)))
            await self._reap(inflight, asyncio.ALL_COMPLETED)
        finally:
            for task in inflight:
                task.cancel()

    @staticmethod
    async def _reap(inflight: set[asyncio.Task[None]], when: str) -> None:
        """Wait for finished batches; a batch that failed re-raises its error here."""
        if not inflight:
            return
        done, _ = await asyncio.wait(inflight, return_when=when)
        for task in done:
            inflight.discard(task)
            task.result()

    async def _gather(self, stop: asyncio.Event) -> Batch:
        """Entries until the batch is full, its time is up, or ``stop`` is set."""
        s = self.settings
        batch = Batch(s.batch_size, s.batch_timeout_ms / 1000)
        while not stop.is_set() and not batch.ready(self.monotonic()):
            await self._chores(batch)
            if batch.ready(self.monotonic()):
                break
            block_ms = max(1, math.ceil(batch.remaining_s(self.monotonic()) * 1000))
            entries = await self._redis(partial(self.stream.read, batch.room, block_ms))
            batch.add(entries, self.monotonic())
            if not batch.entries:
                break  # a whole wait with nothing new: hand back an empty batch
        return batch

    async def _chores(self, batch: Batch) -> None:
        """Reclaim idle entries into ``batch`` and trim the stream, when due."""
        now = self.monotonic()
        s = self.settings
        if now >= self.timers.claim_at and batch.room:
            self.timers.claim_at = now + s.claim_interval_s
            room = batch.room
            claimed = await self._redis(lambda: self.stream.claim_idle(s.claim_idle_ms, room))
            if claimed:
                self.metrics.claimed.inc(len(claimed))
                log.info("reclaimed %d idle entries", len(claimed))
                batch.add(claimed, self.monotonic())
        if now >= self.timers.trim_at:
            self.timers.trim_at = now + s.trim_interval_s
            await self._redis(self._trim)

    async def _trim(self) -> None:
        self.metrics.trimmed.inc(await self.stream.trim())
        lag, pending = await self.stream.lag()
        if lag is not None:
            self.metrics.lag.set(lag)
        self.metrics.pending.set(pending)

    # ------------------------------------------------------------ the steps

    def prepare(self, entries: list[Entry]) -> Prepared:
        """Decode and price ``entries`` (pure CPU work, done while the last batch stores)."""
        s = self.settings
        window = Window(self.clock(), s.clock_skew_s, s.raw_retention_days)
        out = Prepared(closed_at=self.monotonic())
        # Runs once per entry: loop invariants and bound methods in locals.
        max_deliveries, prices = s.max_deliveries, self.prices
        add_record, add_entry = out.records.append, out.entries.append
        for entry in entries:
            if entry.deliveries > max_deliveries:
                reason = (
                    f"delivered {entry.deliveries} times without being stored "
                    f"(max_deliveries {max_deliveries})"
                )
                out.rejected.append(DeadLetter(entry, reason))
                continue
            decoded = decode_entry(entry, window)
            if isinstance(decoded, Rejection):
                out.rejected.append(DeadLetter(entry, decoded.reason))
            else:
                add_record(priced_record(decoded, prices))
                add_entry(entry)
        return out

    async def finish(self, prepared: Prepared) -> None:
        """Store the rows, dead-letter what must be, then acknowledge what committed."""
        isolated = await self._store(prepared)
        stored: list[str] = []
        dead = list(prepared.rejected)
        for i, entry in enumerate(prepared.entries):
            reason = isolated.rejected.get(i)
            if reason is None:
                stored.append(entry.id)
            elif entry.deliveries >= self.settings.max_deliveries:
                dead.append(DeadLetter(entry, f"storage failed: {reason}"))
            else:  # left pending: reclaimed after claim_idle_ms and tried again
                self.metrics.retries.labels("row").inc()
                log.warning("entry %s not stored (try %d): %s", entry.id, entry.deliveries, reason)
        if dead:
            await self._redis(lambda: self.stream.dead_letter(dead, self.clock()))
            for letter in dead:
                self.metrics.dead.labels(reason_kind(letter.reason)).inc()
            log.warning("dead-lettered %d entries, e.g. %s: %s", len(dead), dead[0].entry.id,
                        dead[0].reason[:300])  # fmt: skip
        await self._redis(lambda: self.stream.ack(stored, isolated.new))
        self.metrics.stored.inc(isolated.new)
        self.metrics.duplicates.inc(len(stored) - isolated.new)
        self.metrics.batches.inc()
        self.metrics.batch_seconds.observe(self.monotonic() - prepared.closed_at)

    async def _store(self, prepared: Prepared) -> Isolated:
        """Commit the rows, retrying with backoff for as long as Postgres is unavailable."""
        if not prepared.records:
            return Isolated()
        backoff = Backoff(self.settings.retry_backoff_max_s)
        ids = [e.id for e in prepared.entries]
        while True:
            try:
                return await self.store.commit_isolating(prepared.records)
            except StoreUnavailable as exc:
                delay = backoff.next_delay()
                self.metrics.retries.labels("postgres").inc()
                log.warning("postgres unavailable (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
                # Keep our entries from looking abandoned; best effort only.
                with contextlib.suppress(RedisError):
                    await self.stream.touch(ids)

    # ------------------------------------------------------------ Redis edge

    async def _redis(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op`` against Redis, retrying with backoff until Redis answers."""
        backoff = Backoff(self.settings.retry_backoff_max_s)
        while True:
            try:
                return await op()
            except RedisError as exc:
                problem: RedisError | None = exc
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    # The stream or group vanished (e.g. Redis restarted without persistence).
                    log.warning("consumer group missing; creating it again")
                    problem = await self._recreate_group()
            if problem is not None:
                delay = backoff.next_delay()
                self.metrics.retries.labels("redis").inc()
                log.warning("redis unavailable (%s); retrying in %.2fs", problem, delay)
                await asyncio.sleep(delay)

    async def _recreate_group(self) -> RedisError | None:
        try:
            await self.stream.ensure_group()
        except RedisError as exc:
            return exc
        return None
