"""``store.scoped.fetch_with``: the statement sees its settings; before and after it,
the connection has the ones it had, inside a caller's transaction and outside one, and
after the statement fails."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from runtally.store.scoped import fetch_with

pytestmark = pytest.mark.integration

WANTED = {"enable_sort": "off", "work_mem": "77MB", "plan_cache_mode": "force_custom_plan"}
SEEN = "SELECT " + ", ".join(f"current_setting('{n}') AS {n}" for n in WANTED)


async def current(conn: Any) -> dict[str, str]:
    return dict(await conn.fetchrow(SEEN))


async def test_settings_hold_for_the_statement_alone(pool: Any) -> None:
    async with pool.acquire() as conn:
        before = await current(conn)
        assert before != WANTED  # the test means something only if they differ
        (inside,) = await fetch_with(conn, SEEN, [], WANTED)
        assert dict(inside) == WANTED
        assert await current(conn) == before


async def test_a_callers_transaction_keeps_its_own_settings(pool: Any) -> None:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        await conn.execute("SET LOCAL work_mem = '5MB'")
        before = await current(conn)
        (inside,) = await fetch_with(conn, SEEN, [], WANTED)
        assert dict(inside) == WANTED
        assert await current(conn) == before
        assert before["work_mem"] == "5MB"


async def test_a_failed_statement_leaves_the_settings_as_they_were(pool: Any) -> None:
    async with pool.acquire() as conn, conn.transaction():
        before = await current(conn)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await fetch_with(conn, "SELECT 1 / 0", [], WANTED)
        assert await current(conn) == before
