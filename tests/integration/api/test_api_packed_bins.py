"""Packed bins (migration 0008): every rollup row written carries ``lat_bins`` equal to
its arrays packed (checked with ``struct``); answers read from them are identical
(floats to 12 digits) to answers read from the arrays (rows with ``lat_bins`` NULL),
and the packed bins are what the answers read (with the arrays emptied, the answers
stay the same)."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import pytest

from runtally.packedbins import SQL_PACK
from runtally.rollup.rows import TABLES

from .test_api_exact import roll_all, seed
from .test_api_stored_percentiles import answers, comparable, set_everywhere

pytestmark = pytest.mark.integration


async def assert_rows_carry_their_bins_packed(conn: Any) -> int:
    checked = 0
    for table in TABLES:
        for row in await conn.fetch(f"SELECT lat_keys, lat_counts, lat_bins FROM {table}"):
            pairs = zip(row["lat_keys"], row["lat_counts"], strict=True)
            assert row["lat_bins"] == b"".join(struct.pack(">iq", k, c) for k, c in pairs)
            checked += 1
    return checked


async def test_packed_bins_answer_as_the_arrays_do(
    pool: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await seed(pool)
    await roll_all(pool)
    async with pool.acquire() as conn:
        assert await assert_rows_carry_their_bins_packed(conn) > 1000
    await set_everywhere(pool, "lat_pcts = NULL")  # answers merge bins, read no percentiles
    packed = await answers(client, auth)

    await set_everywhere(pool, "lat_bins = NULL")
    assert comparable(await answers(client, auth)) == comparable(packed)  # from the arrays

    pack = SQL_PACK.format(keys="lat_keys", counts="lat_counts")
    await set_everywhere(pool, f"lat_bins = {pack}")
    async with pool.acquire() as conn:
        assert await assert_rows_carry_their_bins_packed(conn) > 1000  # SQL packs alike
    await set_everywhere(pool, "lat_keys = '{}', lat_counts = '{}'")
    assert comparable(await answers(client, auth)) == comparable(packed)  # packed alone
