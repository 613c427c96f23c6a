"""Fast bulk rows for the rollup and API benchmarks: INSERT … SELECT generate_series.

Rows go straight into ``agent_runs`` (no stream, no Python per row) with the same shape
as ingested events: 8 agents, 5 models, 5% errors of 3 types, lognormal durations
(median ~1.1 s), token counts with cached tokens, ``USERS`` (100,000) users and
``SESSIONS`` (500,000) sessions, a price, five tag keys (environment, release, customer:
500 values, region, feature). Users and sessions follow the row's index in the whole
fill (``Chunk.first`` + its index in the chunk), so a fill of at least ``USERS`` rows has
every user, however it is cut into chunks; the other columns follow the index in the
chunk.
``event_id`` is time-ordered like the SDK's UUIDv7 (48-bit ms timestamp first), so the
primary key grows at its right edge as in production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from bench.data import AGENTS, MODELS, PROJECT, SESSIONS, USERS
from runtally.config import Settings
from runtally.store.dirty import mark_days, mark_hours
from runtally.store.engine import connect

INSERT_SQL = f"""
INSERT INTO agent_runs (
    event_id, project, agent, model, started_at, ended_at, duration_ms, status, error_type,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, ttft_ms, cost_usd,
    cost_source, price_version, trace_id, session_id, user_id, tags)
SELECT
    (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0')
        || substr(md5(i::text || ts::text), 1, 20))::uuid,
    '{PROJECT}',
    (ARRAY{list(AGENTS)!r})[1 + (i % {len(AGENTS)})],
    (ARRAY{list(MODELS)!r})[1 + ((i / 7) % {len(MODELS)})],
    ts, ts + make_interval(secs => d / 1000), d,
    CASE WHEN r3 < 0.05 THEN 'error' ELSE 'success' END,
    CASE WHEN r3 < 0.05 THEN (ARRAY['timeout','rate_limited','tool_error'])[1 + (i % 3)] END,
    it, ot, it / 3, 0, least(d, 50 + r3 * 350),
    (it * 2.5 + ot * 10) / 1e6, 'price_table', 'bench',
    NULL, 's-' || (j % {SESSIONS}), 'u-' || ((j * 7919) % {USERS}),
    jsonb_build_object(
        'environment', (ARRAY['production', 'staging', 'dev'])[1 + (i % 7) % 3],
        'release', 'v' || (i / 100000) % 12, 'customer', 'c' || (i * 31) % 500,
        'region', (ARRAY['eu', 'us', 'ap'])[1 + i % 3], 'feature', 'f' || (i * 17) % 40)
FROM (
    SELECT i, $4::bigint + i AS j,
           $1::timestamptz + make_interval(secs => i * $2::float8) AS ts,
           exp(7.0 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS d,
           random() AS r3, 200 + (i * 37) % 7800 AS it, 20 + (i * 13) % 1480 AS ot
    FROM generate_series(0, $3::int - 1) AS i
) g
"""


class Chunk(NamedTuple):
    """``n`` rows from ``start``, ``step`` seconds apart; ``first``: the index of its first
    row in the whole fill (users and sessions follow it)."""

    start: datetime
    n: int
    step: float
    first: int = 0


async def insert_span(conn: Any, start: datetime, n: int, step_s: float, first: int = 0) -> None:
    """``n`` rows at ``start + i * step_s`` seconds, rows ``first`` … ``first + n − 1`` of
    the fill, in one statement."""
    await conn.execute(INSERT_SQL, start, step_s, n, first)


async def fill(settings: Settings, chunks: Sequence[Chunk], workers: int = 2) -> float:
    """Insert every chunk with ``workers`` connections; rows/s."""
    queue: asyncio.Queue[Chunk] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def worker() -> None:
        conn = await connect(settings)
        try:
            while not queue.empty():
                await insert_span(conn, *queue.get_nowait())
        finally:
            await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return sum(c.n for c in chunks) / (time.perf_counter() - began)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Every hour start from ``start``'s hour up to (not including) ``end``."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while hour < end:
        out.append(hour)
        hour += timedelta(hours=1)
    return out


async def mark_dirty(settings: Settings, start: datetime, end: datetime) -> int:
    """Mark every hour (and day) of ``[start, end)`` dirty, as ingest would have."""
    hours = hours_between(start, end)
    days = sorted({h.replace(hour=0) for h in hours})
    conn = await connect(settings)
    try:
        await mark_hours(conn, [(PROJECT, h) for h in hours])
        await mark_days(conn, [(PROJECT, d) for d in days])
        await conn.execute("ANALYZE agent_runs")
    finally:
        await conn.close()
    return len(hours)
