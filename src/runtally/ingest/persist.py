"""Persist step: commit each prepared batch, up to ``store_concurrency`` at once.

* Backpressure: ``submit`` returns only when fewer than ``store_concurrency`` batches are
  being stored, so a slow Postgres slows reading down instead of growing memory.
* Postgres unavailable: the same batch is retried with backoff; nothing of it is settled
  meanwhile, and its entries stay in hand (``InHand`` keeps them from looking idle).
* A row Postgres refuses is isolated; its entry stays pending for another try, and is
  dead-lettered once it was delivered ``max_deliveries`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from runtally.backoff import Backoff
from runtally.config import Settings
from runtally.ingest.acknowledge import Settled
from runtally.ingest.metrics import IngestMetrics
from runtally.ingest.prepare import Prepared
from runtally.ingest.step import Step
from runtally.ingest.store import BatchStore, Isolated, StoreUnavailable
from runtally.stream import DeadLetter

log = logging.getLogger("runtally.ingest")


class Persist:
    """Stores batches in background tasks and submits each outcome to ``next``."""

    def __init__(
        self,
        settings: Settings,
        store: BatchStore,
        metrics: IngestMetrics,
        next: Step[Settled],
    ) -> None:
        self.settings, self.store = settings, store
        self.metrics, self.next = metrics, next
        self.inflight: set[asyncio.Task[None]] = set()

    async def submit(self, item: Prepared) -> None:
        while len(self.inflight) >= self.settings.store_concurrency:
            await self._reap(asyncio.FIRST_COMPLETED, None)
        self.inflight.add(asyncio.create_task(self._persist(item)))

    async def join(self, timeout: float | None = None) -> None:
        await self._reap(asyncio.ALL_COMPLETED, timeout)
        await self.next.join(timeout)

    async def close(self) -> None:
        for task in self.inflight:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.inflight, return_exceptions=True)
        self.inflight.clear()
        await self.next.close()

    async def _reap(self, when: str, timeout: float | None) -> None:
        """Wait for finished batches; a batch that failed re-raises its error here."""
        if not self.inflight:
            return
        done, _ = await asyncio.wait(self.inflight, timeout=timeout, return_when=when)
        for task in done:
            self.inflight.discard(task)
            task.result()

    async def _persist(self, prepared: Prepared) -> None:
        isolated = await self._store(prepared)
        await self.next.submit(self.settle(prepared, isolated))

    def settle(self, prepared: Prepared, isolated: Isolated) -> Settled:
        """Which entries are stored, which are given up on, which stay pending."""
        out = Settled(new=isolated.new, dead=list(prepared.rejected), closed_at=prepared.closed_at)
        for i, entry in enumerate(prepared.entries):
            reason = isolated.rejected.get(i)
            if reason is None:
                out.stored.append(entry.id)
            elif entry.deliveries >= self.settings.max_deliveries:
                out.dead.append(DeadLetter(entry, f"storage failed: {reason}"))
            else:  # left pending: reclaimed after claim_idle_ms and tried again
                out.left.append(entry.id)
                self.metrics.retries.labels("row").inc()
                log.warning("entry %s not stored (try %d): %s", entry.id, entry.deliveries, reason)
        return out

    async def _store(self, prepared: Prepared) -> Isolated:
        """Commit the rows, retrying with backoff for as long as Postgres is unavailable."""
        if not prepared.records:
            return Isolated()
        backoff = Backoff(self.settings.retry_backoff_max_s)
        while True:
            try:
                return await self.store.commit_isolating(prepared.records)
            except StoreUnavailable as exc:
                delay = backoff.next_delay()
                self.metrics.retries.labels("postgres").inc()
                log.warning("postgres unavailable (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
