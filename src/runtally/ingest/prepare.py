"""Decode-and-price step: entries become priced rows, or dead letters with the reason.

Pure CPU work with the clock injected; it runs while the previous batch is being stored.
An entry delivered more than ``max_deliveries`` times is given up on before decoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from runtally.config import Settings
from runtally.events import RunEvent
from runtally.ingest.decode import Rejection, Window, decode_entry
from runtally.ingest.fast import fast_record
from runtally.ingest.pricer import Pricer
from runtally.ingest.step import Step
from runtally.store.writes import RunRecord, run_record
from runtally.stream import DeadLetter, Entry


def priced_record(event: RunEvent, prices: Pricer) -> RunRecord:
    """The row of ``event`` with its cost: as sent, else from the price table, else NULL."""
    if event.cost_usd is not None:
        return run_record(event, event.cost_usd, "event", None)
    cost, version = prices.cost(event)
    return run_record(event, cost, None if cost is None else "price_table", version)


@dataclass
class Prepared:
    """A decoded batch: rows to store (with their entries) and entries to dead-letter."""

    records: list[RunRecord] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)
    closed_at: float = 0.0


def too_many_deliveries(entry: Entry, max_deliveries: int) -> DeadLetter:
    reason = (
        f"delivered {entry.deliveries} times without being stored (max_deliveries {max_deliveries})"
    )
    return DeadLetter(entry, reason)


class Prepare:
    """Decodes and prices each batch of entries, then submits it to ``next``."""

    def __init__(
        self,
        settings: Settings,
        prices: Pricer,
        next: Step[Prepared],
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.prices, self.next = settings, prices, next
        self.clock, self.monotonic = clock, monotonic

    async def submit(self, item: list[Entry]) -> None:
        await self.next.submit(self.prepare(item))

    async def join(self, timeout: float | None = None) -> None:
        await self.next.join(timeout)

    async def close(self) -> None:
        await self.next.close()

    def prepare(self, entries: list[Entry]) -> Prepared:
        """Decode and price ``entries`` (``fast_record`` first, then ``decode_entry``)."""
        s = self.settings
        window = Window(self.clock(), s.clock_skew_s, s.raw_retention_days)
        out = Prepared(closed_at=self.monotonic())
        # Runs once per entry: loop invariants and bound methods in locals.
        max_deliveries, prices = s.max_deliveries, self.prices
        add_record, add_entry, reject = out.records.append, out.entries.append, out.rejected.append
        for entry in entries:
            if entry.deliveries > max_deliveries:
                reject(too_many_deliveries(entry, max_deliveries))
                continue
            fields = entry.fields
            # The fast path answers for well-formed events only; else pydantic decides.
            if len(fields) == 1 and (raw := fields.get(b"data")) is not None:
                record = fast_record(raw, window, prices)
                if record is not None:
                    add_record(record)
                    add_entry(entry)
                    continue
            decoded = decode_entry(entry, window)
            if isinstance(decoded, Rejection):
                reject(DeadLetter(entry, decoded.reason))
            else:
                add_record(priced_record(decoded, prices))
                add_entry(entry)
        return out
