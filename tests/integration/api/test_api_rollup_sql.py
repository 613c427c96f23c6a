"""``gather`` merges rollup rows in SQL into one part per group: for every granularity,
set of kept key fields (``by``) and agent filter, each part equals the ground truth of
its group's events exactly (counts, tokens, Decimal cost, min/max; percentiles within
2%, distinct users/sessions within 5%), and there is exactly one part per group."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from runtally.api.planner import DAY, HOUR, floor_to
from runtally.api.queries import Scope, gather
from runtally.api.rollup_sql import KEY_FIELDS, merge_sql, merged_rollups
from runtally.api.views import tally_fields
from runtally.store.aggregate import GroupKey

from .data import Ev, check, group, in_range, truth
from .test_api_exact import BASE, CUT, END, make_mixed, roll_all, seed

pytestmark = pytest.mark.integration

STEPS = {"hour": HOUR, "day": DAY}
CASES = [
    (granularity, by, agent)
    for granularity in (None, "hour", "day")
    for by in ((), ("agent",), ("error_type",), KEY_FIELDS)
    for agent in (None, "coder")
]


def expected_key(e: Ev, start: datetime, granularity: str | None, by: tuple[str, ...]) -> GroupKey:
    bucket = start if granularity is None else floor_to(e.started_at, STEPS[granularity])
    fields = {"agent": e.agent, "model": e.model, "error_type": e.error_type or ""}
    return GroupKey(bucket, *(fields[f] if f in by else "" for f in KEY_FIELDS))


async def assert_groups(
    pool: Any, events: list[Ev], start: datetime, end: datetime, distinct: bool
) -> None:
    for granularity, by, agent in CASES:
        selected = [e for e in in_range(events, start, end) if agent in (None, e.agent)]
        groups = group(selected, lambda e, g=granularity, b=by: expected_key(e, start, g, b))
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            segments, parts = await gather(
                conn, Scope("demo", start, end, agent=agent), granularity, distinct, by
            )
        assert segments.daily or segments.hourly, "the rollups are not exercised"
        where = f"{granularity} {by} {agent}"
        keys = [k for k, _ in parts]
        assert len(keys) == len(set(keys)), where  # one part per group
        assert set(keys) == set(groups), where
        for key, tally in parts:
            expected = truth(groups[key])
            check(tally_fields(tally), expected, f"{where} {key}")
            assert tally.cost_usd == expected.cost, where
            assert tally.unpriced_runs == expected.unpriced, where
            if distinct:
                assert abs(tally.unique_users - expected.users) <= 0.05 * expected.users + 1
                assert abs(tally.unique_sessions - expected.sessions) <= 0.05 * expected.sessions
            else:
                assert (tally.users, tally.sessions) == ([], []), where


@pytest.mark.parametrize("state", ["rolled", "mixed"])
async def test_parts_are_merged_per_group(state: str, pool: Any) -> None:
    events = await seed(pool)
    if state == "rolled":
        await roll_all(pool)
    else:
        events = await make_mixed(pool, events)
    await assert_groups(pool, events, BASE, END, distinct=True)
    await assert_groups(pool, events, *CUT, distinct=False)
    # A whole aligned range: only rollup rows, the daily one included.
    day = floor_to(BASE, DAY) + DAY
    await assert_groups(pool, events, day, day + DAY + timedelta(hours=5), distinct=True)


def test_unknown_key_field_is_refused() -> None:
    with pytest.raises(ValueError, match="not a key field"):
        merge_sql(None, ("user_id",), False, None, None)


async def test_hourly_buckets_refuse_daily_rows() -> None:
    with pytest.raises(ValueError, match="daily rows"):
        await merged_rollups(
            None,
            "demo",
            [BASE],
            [],
            granularity="hour",
            by=KEY_FIELDS,
            collapsed=BASE,
            distinct=False,
        )
