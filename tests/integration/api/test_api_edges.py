"""Trimmed hours (``api.edges``): most of a clean hour answered as its rollup minus the
rest equals aggregating the part's raw rows directly, at every grouping set and filter;
a rollup that does not match its raw rows is reported, never answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.api.edges import Inconsistent, trimmed_parts
from runtally.api.rollups import rollup_parts
from runtally.cube import GROUPING_SETS
from runtally.rollup.hourly import roll_hours
from runtally.store.aggregate import aggregate_raw
from runtally.store.selection import Selection
from runtally.tally import Tally

from .data import generate, store

pytestmark = pytest.mark.integration

HOUR = datetime(2026, 4, 2, 9, tzinfo=UTC)
PART = (HOUR + timedelta(minutes=7, seconds=13), HOUR + timedelta(minutes=52))
FILTERS = [(None, None), ("coder", None), (None, "gpt-4o"), ("planner", "llama-70b")]


def comparable(tally: Tally) -> dict[str, Any]:
    """The tally's row without its sketches of distinct ids (checked against exact counts:
    their estimates also depend on the order the ids were added in)."""
    row = tally.to_row()
    del row["users_hll"], row["sessions_hll"]
    row["duration_sum"] = round(row["duration_sum"], 6)  # subtraction rounds the last bits
    row["ttft_sum"] = round(row["ttft_sum"], 6)
    return row


async def trimmed(conn: Any, scope: Selection, dims: int) -> dict[tuple[str, str, str], Tally]:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        hourly = await rollup_parts(conn, "rollup_hourly", scope, [HOUR], True, dims)
        parts = await trimmed_parts(conn, scope, [PART], hourly, True, dims)
    assert all(key.bucket == HOUR and key.dims == dims for key, _ in parts)
    return {(k.agent, k.model, k.error_type): t for k, t in parts}


async def distinct_ids(
    conn: Any, scope: Selection, dims: int
) -> dict[tuple[str, ...], tuple[int, int]]:
    """Exact distinct users and sessions of the part per group of ``dims``, by SQL."""
    columns = [
        c if dims & bit else "''" for c, bit in (("agent", 1), ("model", 2), ("error_type", 4))
    ]
    columns[2] = "coalesce(error_type, '')" if dims & 4 else "''"
    where, args = scope.raw_where()
    rows = await conn.fetch(
        f"SELECT {', '.join(columns)}, count(DISTINCT user_id), count(DISTINCT session_id) "
        f"FROM agent_runs WHERE {where} GROUP BY 1, 2, 3",
        *args,
    )
    return {tuple(r[:3]): (r[3], r[4]) for r in rows}


@pytest.mark.parametrize(("agent", "model"), FILTERS)
async def test_trimmed_equals_raw_at_every_grouping_set(
    pool: Any, agent: str | None, model: str | None
) -> None:
    await store(pool, generate(3000, HOUR - timedelta(minutes=30), timedelta(hours=2), seed=3))
    await roll_hours(pool, 100)
    scope = Selection.of("demo", *PART, agent=agent, model=model)
    async with pool.acquire() as conn:
        for dims in GROUPING_SETS:
            if dims & scope.dims() != scope.dims():
                continue  # a filtered column must be kept
            got = await trimmed(conn, scope, dims)
            raw = await aggregate_raw(conn, scope, None, True, dims)
            want = {(k.agent, k.model, k.error_type): t for k, t in raw.items()}
            assert set(got) == set(want), dims
            assert got, dims
            exact = await distinct_ids(conn, scope, dims)
            for cells, tally in want.items():
                assert comparable(got[cells]) == comparable(tally), (dims, cells)
                users, sessions = exact[cells]
                assert abs(got[cells].unique_users - users) <= max(2, 0.03 * users), cells
                assert abs(got[cells].unique_sessions - sessions) <= max(2, 0.03 * sessions)


async def test_a_rollup_that_lost_runs_is_reported(pool: Any) -> None:
    await store(pool, generate(500, HOUR, timedelta(hours=1), seed=4))
    await roll_hours(pool, 100)
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM rollup_hourly WHERE agent = 'coder'")
        with pytest.raises(Inconsistent):
            await trimmed(conn, Selection("demo", *PART), 7)
