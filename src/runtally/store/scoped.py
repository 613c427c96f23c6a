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

_READ = "SELECT array_agg(current_setting(n)) FROM unnest($1::text[]) AS n"
_RESTORE = "SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)"


async def fetch_with(
    conn: Connection, sql: str, args: list[Any], settings: Mapping[str, str]
) -> list[Any]:
    """The rows of ``sql`` run with ``settings`` (names and values from code, never from
    a request); every other statement on ``conn`` keeps the settings it had."""
    names = list(settings)
    async with conn.transaction():
        old = await conn.fetchval(_READ, names)
        await conn.execute("; ".join(f"SET LOCAL {n} = '{v}'" for n, v in settings.items()))
        rows: list[Any] = await conn.fetch(sql, *args)
        # A caller's transaction continues after this savepoint: give it its settings back.
        await conn.execute(_RESTORE, names, old)
    return rows
