"""``aggregate_intervals``: several raw intervals in one statement give exactly the
parts of one ``aggregate_raw`` per interval (each bucketed at its start), for every
grouping set, with filters, and never a run outside the intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.cube import AGENT, FULL, MODEL
from runtally.sketch import hll_estimate, hll_union
from runtally.store.aggregate import aggregate_intervals, aggregate_raw
from runtally.store.selection import Selection

from . import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 6, 1, 10, tzinfo=UTC)
M = timedelta(minutes=1)
INTERVALS = [  # ascending, disjoint, across partitions (days)
    (START + 3 * M, START + 11 * M),
    (START + 60 * M, START + 120 * M),
    (START + 26 * 60 * M, START + 26 * 60 * M + 7 * M),
]


def comparable(found: dict[Any, Any]) -> dict[Any, Any]:
    """Tallies as plain values (HLL unions as estimates: the sets are what must match;
    float sums rounded: Postgres adds them in hash order)."""
    out = {}
    for key, tally in found.items():
        values = {k: round(v, 6) if isinstance(v, float) else v for k, v in vars(tally).items()
                  if k not in ("users", "sessions")}  # fmt: skip
        values["users"] = hll_estimate(hll_union(tally.users))
        values["sessions"] = hll_estimate(hll_union(tally.sessions))
        out[key] = values
    return out


@pytest.mark.parametrize(("dims", "filters"), [
    (0, {}), (FULL, {}), (AGENT | MODEL, {"agent": "coder"}),
])  # fmt: skip
async def test_intervals_in_one_statement_equal_one_scan_each(
    pool: Any, dims: int, filters: dict[str, str]
) -> None:
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, kit.make_runs(6_000, START, 28, seed=5))
        selection = Selection(kit.PROJECT, START, START + 28 * 60 * M, filters=filters)
        expected: dict[Any, Any] = {}
        for start, end in INTERVALS:
            expected |= await aggregate_raw(conn, selection.during(start, end), None, True, dims)
        found = await aggregate_intervals(conn, selection, INTERVALS, True, dims)
    assert {key.bucket for key in found} == {start for start, _ in INTERVALS}
    assert comparable(found) == comparable(expected)
    assert sum(t.runs for t in found.values()) > 50  # the intervals hold runs


async def test_no_interval_is_no_statement(pool: Any) -> None:
    async with pool.acquire() as conn:
        assert await aggregate_intervals(conn, Selection(kit.PROJECT, START, START + M), []) == {}
