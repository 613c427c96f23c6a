"""Dirty markers: which (project, hour) and (project, day) need their rollup recomputed.

Ingest marks the hours it touched in the same transaction as the rows, so a committed
row always has a marker until a rollup that saw it clears it. Each marking takes a new
``seq``; a rollup clears a marker only if its ``seq`` is still the one it read, so an
hour re-dirtied while it was being rolled up stays dirty for the next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from runtally.store.protocols import Connection

MARK_HOURS_SQL = """
INSERT INTO rollup_dirty (project, hour)
SELECT * FROM unnest($1::text[], $2::timestamptz[])
ON CONFLICT (project, hour)
DO UPDATE SET seq = nextval('rollup_dirty_seq'), dirtied_at = now()
"""

MARK_DAYS_SQL = """
INSERT INTO rollup_dirty_day (project, day)
SELECT * FROM unnest($1::text[], $2::timestamptz[])
ON CONFLICT (project, day)
DO UPDATE SET seq = nextval('rollup_dirty_seq'), dirtied_at = now()
"""


async def mark_hours(conn: Connection, marks: Iterable[tuple[str, datetime]]) -> None:
    """Mark (project, hour-start) pairs dirty; call inside the writing transaction.

    Pairs are sorted so concurrent writers lock marker rows in one order (no deadlocks).
    """
    pairs = sorted(set(marks))
    if pairs:
        await conn.execute(MARK_HOURS_SQL, [p for p, _ in pairs], [h for _, h in pairs])


async def mark_days(conn: Connection, marks: Iterable[tuple[str, datetime]]) -> None:
    """Mark (project, UTC-midnight) pairs dirty for the daily rollup."""
    pairs = sorted(set(marks))
    if pairs:
        await conn.execute(MARK_DAYS_SQL, [p for p, _ in pairs], [d for _, d in pairs])
