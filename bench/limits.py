"""Physical limits measured in the same run as the figures: what the servers and the
client libraries do with no runtally code in the way.

- ``plain_copy``: asyncpg ``copy_records_to_table`` of prepared records straight into
  ``agent_runs``, one transaction per batch (the cheapest durable way to store a batch).
- ``raw_read_ack``: redis-py XREADGROUP + XACK of the same entries, no decoding.
- ``raw_xadd``: redis-py pipelined XADD of prepared payloads.
- ``parse_rate``: ``parse_event`` on one core (the validation cost per event).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from bench.data import COPY_COLUMNS
from runtally.config import Settings
from runtally.events import parse_event
from runtally.store.engine import connect


async def truncate(settings: Settings) -> None:
    """Empty the raw table and the dirty markers between measurements."""
    conn = await connect(settings)
    try:
        await conn.execute("TRUNCATE agent_runs, rollup_dirty, rollup_dirty_day")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def plain_copy(settings: Settings, records: Sequence[tuple[Any, ...]], batch: int) -> float:
    """Rows/s of COPY of ``records`` into agent_runs, ``batch`` rows per transaction.

    A bare asyncpg connection: binary COPY takes json/jsonb as text (records hold str).
    """
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        start = time.perf_counter()
        for i in range(0, len(records), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "agent_runs", records=records[i : i + batch], columns=COPY_COLUMNS
                )
        seconds = time.perf_counter() - start
    finally:
        await conn.close()
    return len(records) / seconds


async def load_stream(
    client: aioredis.Redis, stream: str, payloads: Sequence[bytes], chunk: int = 2000
) -> float:
    """XADD every payload (pipelined in chunks); returns entries/s (the raw XADD rate)."""
    start = time.perf_counter()
    for i in range(0, len(payloads), chunk):
        async with client.pipeline(transaction=False) as pipe:
            for payload in payloads[i : i + chunk]:
                pipe.xadd(stream, {"data": payload})
            await pipe.execute()
    return len(payloads) / (time.perf_counter() - start)


async def raw_read_ack(client: aioredis.Redis, stream: str, batch: int) -> float:
    """Entries/s of XREADGROUP+XACK over the whole stream in a fresh group, no decoding."""
    group = "bench-raw"
    await client.xgroup_create(stream, group, id="0", mkstream=True)
    done = 0
    start = time.perf_counter()
    while True:
        reply = await client.xreadgroup(group, "raw", {stream: ">"}, count=batch)
        if not reply:
            break
        ids = [entry_id for entry_id, _ in reply[0][1]]
        await client.xack(stream, group, *ids)
        done += len(ids)
    seconds = time.perf_counter() - start
    await client.xgroup_destroy(stream, group)
    return done / seconds


def parse_rate(payloads: Sequence[bytes]) -> float:
    """Events/s of ``parse_event`` alone on one core."""
    start = time.perf_counter()
    for payload in payloads:
        parse_event(payload)
    return len(payloads) / (time.perf_counter() - start)
