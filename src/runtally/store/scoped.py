"""One statement run under its own planner settings, the caller's restored after.

The raw aggregate statements need settings Postgres's defaults get wrong for them (see
``store.aggregate``'s planner note and ``store.tagged``'s ``SETTINGS``). They are set
with ``SET LOCAL`` inside a savepoint, so they last for that statement alone: a caller
already in a transaction (the read API's snapshot) gets its own values back after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtally.store.protocols import Connection

# Only for the raw aggregate statements (hashing every group of a range in memory).
WORK_MEM = "64MB"
# Sorting is priced as disabled: Postgres cannot estimate the groups of ``date_bin``
# or the latency bin and would sort every run rather than hash a few thousand groups.
HASHED = {"enable_sort": "off", "work_mem": WORK_MEM}

_MARK = "runtally_scoped"  # the savepoint the settings are set under


async def fetch_with(
    conn: Connection, sql: str, args: list[Any], settings: Mapping[str, str]
) -> list[Any]:
    """The rows of ``sql`` run with ``settings`` (names and values from code, never from
    a request); every other statement on ``conn`` keeps the settings it had.

    Inside a caller's transaction the settings are set under a savepoint that is rolled
    back after the statement (a rollback to a savepoint undoes its ``SET LOCAL``s; the
    statement only reads), in three round trips; outside one, in a transaction of its
    own. No ``settings``: the statement alone, in one round trip."""
    if not settings:
        return await conn.fetch(sql, *args)
    sets = "; ".join(f"SET LOCAL {n} = '{v}'" for n, v in settings.items())
    if not conn.is_in_transaction():
        async with conn.transaction():
            await conn.execute(sets)
            return await conn.fetch(sql, *args)
    await conn.execute(f"SAVEPOINT {_MARK}; {sets}")
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.execute(f"ROLLBACK TO SAVEPOINT {_MARK}; RELEASE SAVEPOINT {_MARK}")
