"""``store.engine.create_pool(stateless=True)``: a released connection comes back out of
any transaction its user left open (work undone), though no reset statement is sent."""

from __future__ import annotations

import pytest

from runtally.config import Settings
from runtally.store.engine import create_pool

pytestmark = pytest.mark.integration


async def test_a_stateless_pool_rolls_back_what_a_user_left_open(settings: Settings) -> None:
    pool = await create_pool(settings, min_size=1, max_size=1, stateless=True)
    try:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS seen (n int)")
            tx = conn.transaction()
            await tx.start()  # never committed: the user fails before it ends
            await conn.execute("INSERT INTO seen VALUES (1); SET LOCAL work_mem = '77MB'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same session
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM seen") == 0
            assert await conn.fetchval("SHOW work_mem") != "77MB"
    finally:
        await pool.close()
