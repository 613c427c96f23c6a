"""The bucket key computed by Postgres (``sketch.SQL_KEY``) equals ddsketch's, edges included."""

from __future__ import annotations

from typing import Any

import pytest
from ddsketch.mapping import LogarithmicMapping

from runtally import sketch
from tests.unit.test_sketch import BOUNDARIES

pytestmark = pytest.mark.integration


async def test_sql_key_equals_ddsketch_at_boundaries_and_neighbours(pool: Any) -> None:
    expression = sketch.SQL_KEY.format(x="x")
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT x, {expression} AS k FROM unnest($1::float8[]) AS x", BOUNDARIES
        )
    mapping = LogarithmicMapping(0.01)
    assert len(rows) == len(BOUNDARIES)
    mismatched = [(r["x"], r["k"]) for r in rows if r["k"] != mapping.key(r["x"])]
    assert mismatched == []
