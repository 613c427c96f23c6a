"""Daily range partitions of ``agent_runs``: create ahead, drop past retention.

A row whose day has no partition lands in ``agent_runs_default``. Creating that day's
partition later moves such rows out of the default partition in the same transaction,
because Postgres refuses to attach a partition whose range the default already holds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import asyncpg

from runtally import constants
from runtally.store.protocols import Connection

PARENT = "agent_runs"
DEFAULT = "agent_runs_default"
_NAME = re.compile(r"^agent_runs_p(\d{8})$")
# Advisory lock key: partition DDL takes it exclusively; readers that must not see rows
# move between the default and a new partition mid-statement take it shared.
PARTITION_LOCK = constants.PARTITION_LOCK


def partition_name(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition name stands for, or ``None`` for other tables."""
    match = _NAME.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def existing_partitions(conn: Connection) -> dict[date, str]:
    rows = await conn.fetch(
        """
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = $1
        """,
        PARENT,
    )
    found: dict[date, str] = {}
    for row in rows:
        day = day_of(row["relname"])
        if day is not None:
            found[day] = row["relname"]
    return found


ATTACH_ATTEMPTS = 3


async def create_partition(conn: Connection, day: date) -> None:
    """Create the partition for ``day``, moving any rows the default partition holds for it.

    A row of ``day`` that ingest stores in the default partition after the move makes the
    ATTACH's check fail and the whole transaction roll back; the next attempt moves it
    too. (Locking the default partition against inserts instead would make those inserts
    fail: they route by the partition list they saw before the ATTACH.)
    """
    for attempt in range(1, ATTACH_ATTEMPTS + 1):
        try:
            await _create_partition(conn, day)
        except asyncpg.CheckViolationError:
            if attempt == ATTACH_ATTEMPTS:
                raise
        else:
            return


async def _create_partition(conn: Connection, day: date) -> None:
    name = partition_name(day)
    start, end = day_bounds(day)
    async with conn.transaction():
        # Serialise partition DDL between schedulers; the loser finds it done.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", PARTITION_LOCK)
        if day in await existing_partitions(conn):
            return
        await conn.execute(
            f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        await conn.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE started_at >= $1 AND started_at < $2 "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            start,
            end,
        )
        await conn.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )


async def ensure_partitions(conn: Connection, first: date, last: date) -> list[date]:
    """Make sure every day in ``[first, last]`` has its partition; return the days created."""
    have = await existing_partitions(conn)
    created = []
    day = first
    while day <= last:
        if day not in have:
            await create_partition(conn, day)
            created.append(day)
        day += timedelta(days=1)
    return created


async def drop_partitions_before(conn: Connection, cutoff: date) -> list[date]:
    """Drop the partitions of days before ``cutoff`` and the default's rows before it."""
    dropped = []
    for day, name in sorted((await existing_partitions(conn)).items()):
        if day < cutoff:
            async with conn.transaction():
                await conn.execute(f"ALTER TABLE {PARENT} DETACH PARTITION {name}")
                await conn.execute(f"DROP TABLE {name}")
            dropped.append(day)
    start, _ = day_bounds(cutoff)
    await conn.execute(f"DELETE FROM {DEFAULT} WHERE started_at < $1", start)
    return dropped
