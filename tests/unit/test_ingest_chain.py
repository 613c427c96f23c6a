"""The ingest chain on the in-memory stream and an in-memory store: no servers, fast.

What it proves: entries are acknowledged only after their rows committed, malformed ones
are dead-lettered with their reason, poison rows die after ``max_deliveries``, storing
slows reading (backpressure), a cancelled consumer acknowledges nothing, and only the
``Acknowledge`` step acknowledges.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtally.config import Settings
from runtally.ingest.acknowledge import Settled
from runtally.ingest.consumer import Consumer
from runtally.ingest.metrics import IngestMetrics
from runtally.ingest.persist import Persist
from runtally.ingest.prepare import Prepared
from runtally.ingest.store import BatchStore, RowRejected, StoreUnavailable
from runtally.store.writes import COLUMNS, RunRecord
from runtally.stream import MemoryLog, MemoryStream
from tests.ingest_support import (
    POISON_AGENT,
    FixedPrices,
    NoPool,
    event_dict,
    malformed_corpus,
    payload,
)

AGENT = COLUMNS.index("agent")
SETTINGS = Settings(
    consumer="c1",
    batch_size=50,
    batch_timeout_ms=20,
    claim_idle_ms=100,
    claim_interval_s=0.05,
    retry_backoff_max_s=0.05,
    max_deliveries=3,
    store_concurrency=2,
    prices_file=None,
)


class MemoryStore(BatchStore):
    """Rows by event id; can be held (``gate``), down (``failures``), or refuse a poison row."""

    def __init__(self, log: MemoryLog | None = None) -> None:
        super().__init__(pool=NoPool())
        self.rows: dict[Any, RunRecord] = {}
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0
        self.commits = 0
        self.log = log
        self.pending_while_down: list[int] = []

    async def commit(self, records: Sequence[RunRecord]) -> int:
        self.commits += 1
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            if self.log is not None:
                self.pending_while_down.append(len(self.log.groups[SETTINGS.group].pending))
            raise StoreUnavailable("ConnectionRefusedError: down")
        if any(r[AGENT] == POISON_AGENT for r in records):
            raise RowRejected("CheckViolationError: test_poison_agent")
        new = [r for r in records if r[0] not in self.rows]
        self.rows.update((r[0], r) for r in new)
        return len(new)


def consumer(log: MemoryLog, store: BatchStore, settings: Settings = SETTINGS) -> Consumer:
    return Consumer(settings, MemoryStream(log, settings), store, FixedPrices())


def event_ids(store: MemoryStore) -> set[str]:
    return {str(uid) for uid in store.rows}


async def test_valid_events_are_stored_once_and_malformed_ones_dead_lettered() -> None:
    now = datetime.now(UTC)
    log, events = MemoryLog(), [event_dict(i, now) for i in range(300)]
    corpus = malformed_corpus(now)
    for e in events + events[::10]:  # every 10th published twice
        log.add({b"data": payload(e)})
    bad_ids = {log.add(fields): word for fields, word in corpus}
    store = MemoryStore()
    await consumer(log, store).run_until_idle()
    assert event_ids(store) == {e["event_id"] for e in events}
    assert log.groups[SETTINGS.group].pending == {}
    assert log.stats == {"ingested": 300, "dead": len(corpus)}
    dead = {f[b"source_id"].decode(): f[b"reason"].decode().lower() for f in log.dead}
    assert set(dead) == set(bad_ids)
    assert all(word.lower() in dead[i] for i, word in bad_ids.items())


async def test_nothing_is_acknowledged_while_the_store_is_down() -> None:
    log = MemoryLog()
    events = [event_dict(i) for i in range(40)]
    for e in events:
        log.add({b"data": payload(e)})
    store = MemoryStore(log)
    store.failures = 4
    await consumer(log, store).run_until_idle()
    assert store.pending_while_down == [40] * 4
    assert event_ids(store) == {e["event_id"] for e in events}
    assert log.groups[SETTINGS.group].pending == {}


async def test_a_poison_row_is_retried_then_dead_lettered_and_blocks_nothing() -> None:
    log = MemoryLog()
    events = [event_dict(i) for i in range(20)]
    for e in [*events[:10], event_dict(99, agent=POISON_AGENT), *events[10:]]:
        log.add({b"data": payload(e)})
    store, stop = MemoryStore(), asyncio.Event()
    task = asyncio.create_task(consumer(log, store).run(stop))
    for _ in range(200):
        if log.dead:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert event_ids(store) == {e["event_id"] for e in events}
    [letter] = log.dead
    assert letter[b"deliveries"] == b"3"
    assert letter[b"reason"].startswith(b"storage failed: CheckViolationError")
    assert log.groups[SETTINGS.group].pending == {}


async def test_storing_slows_submitting_down_to_store_concurrency() -> None:
    store = MemoryStore()
    store.gate.clear()
    settled: list[Settled] = []

    class Collect:
        async def submit(self, item: Settled) -> None:
            settled.append(item)

        async def join(self, timeout: float | None = None) -> None:
            pass

        async def close(self) -> None:
            pass

    persist = Persist(SETTINGS, store, IngestMetrics(), Collect())
    record = (1, *[None] * (len(COLUMNS) - 1))
    for _ in range(SETTINGS.store_concurrency):
        await asyncio.wait_for(persist.submit(Prepared(records=[record])), 1)
    third = asyncio.create_task(persist.submit(Prepared(records=[record])))
    await asyncio.sleep(0.05)
    assert not third.done()  # held back: two batches are being stored
    store.gate.set()
    await third
    await persist.join()
    assert len(settled) == 3


async def test_a_cancelled_consumer_acknowledges_nothing_unstored() -> None:
    log = MemoryLog()
    for i in range(30):
        log.add({b"data": payload(event_dict(i))})
    store = MemoryStore()
    store.gate.clear()  # Postgres hangs
    task = asyncio.create_task(consumer(log, store).run(asyncio.Event()))
    while not store.commits:
        await asyncio.sleep(0.01)
    task.cancel()  # the shutdown grace is over
    await asyncio.gather(task, return_exceptions=True)
    assert len(log.groups[SETTINGS.group].pending) == 30
    assert log.stats == {}
    assert store.rows == {}


def test_only_the_acknowledge_step_acknowledges() -> None:
    ingest = Path(__file__).parents[2] / "src/runtally/ingest"
    callers = set()
    for path in ingest.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"ack", "dead_letter"}:
                callers.add(path.name)
    assert callers == {"acknowledge.py"}


def test_metric_names_are_unchanged() -> None:
    names = {m.name for m in IngestMetrics().registry.collect()}
    assert names == {
        f"runtally_ingest_{n}"
        for n in (
            "events_stored", "duplicates", "dead_lettered", "batches", "batch_seconds",
            "retries", "claimed", "trimmed", "stream_lag", "group_pending",
        )
    }  # fmt: skip
