"""Done-when of the read API: 20,000 events (with duplicates) across 48 unaligned hours;
summary, breakdown by agent and hourly/daily series equal ground truth exactly (counts,
tokens, cost) with p50/p95/p99 within 2% of numpy — all raw (nothing rolled up), after
the rollups ran, and in a mixed state (late events, re-dirtied hours, a stale day)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from runtally.api.cover import Cover
from runtally.api.gather import gather
from runtally.grid import DAY, HOUR, QUARTER, floor_to
from runtally.rollup.daily import roll_days
from runtally.rollup.hourly import roll_hours
from runtally.rollup.zones import roll_zone_days
from runtally.store.dirty import mark_hours
from runtally.store.selection import Selection

from .data import Ev, check, generate, group, in_range, iso, store, truth

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 5, 17, 23, 500_000, tzinfo=UTC)
SPAN = timedelta(hours=48)
END = BASE + SPAN
CUT = (BASE + timedelta(hours=3, minutes=10), BASE + timedelta(hours=40, minutes=5))


async def roll_all(pool: Any, zones: Sequence[str] = ()) -> None:
    """Run the real hourly then daily rollups (local days of ``zones`` too) until no
    marker is left that they can clear."""
    for _ in range(10):
        hours = await roll_hours(pool, 1000)
        days = await roll_days(pool, 1000)
        days.add(await roll_zone_days(pool, 1000, zones))
        async with pool.acquire() as conn:
            left = await conn.fetchval(
                "SELECT (SELECT count(*) FROM rollup_dirty)"
                " + (SELECT count(*) FROM rollup_dirty_day)"
                " + (SELECT count(*) FROM rollup_dirty_zone_day)"
            )
        if left == 0:
            return
        assert hours.progressed or days.progressed, "rollups made no progress"
    raise AssertionError("rollups left markers behind")


async def seed(pool: Any) -> list[Ev]:
    events = generate(20_000, BASE, SPAN, seed=7)
    assert await store(pool, events) == len(events)
    assert await store(pool, events[::17]) == 0  # redelivered duplicates change nothing
    await store(pool, generate(500, BASE, SPAN, seed=8, project="other"))
    return events


async def make_mixed(pool: Any, events: list[Ev]) -> list[Ev]:
    """Rolled up, then: late events into an hour that is rolled again (its day marker stays,
    the day's daily row is stale), late events into two hours left dirty (one in the middle
    day), and one hour re-dirtied without new rows."""
    await roll_all(pool)
    middle_day = floor_to(BASE, DAY) + DAY
    late_rolled = generate(300, middle_day + 3 * HOUR, HOUR, seed=9)
    await store(pool, late_rolled)
    await roll_hours(pool, 1000)  # clears the hour, marks the middle day dirty
    late_dirty = generate(200, middle_day + 15 * HOUR, HOUR, seed=10)
    late_dirty += generate(200, floor_to(BASE, HOUR) + 2 * HOUR, HOUR, seed=11)
    await store(pool, late_dirty)
    async with pool.acquire() as conn:
        await mark_hours(conn, [("demo", middle_day + 20 * HOUR)])
        dirty = await conn.fetchval("SELECT count(*) FROM rollup_dirty WHERE project = 'demo'")
        stale_days = await conn.fetchval("SELECT count(*) FROM rollup_dirty_day")
    assert (dirty, stale_days) == (3, 1)
    return events + late_rolled + late_dirty


async def get(client: httpx.AsyncClient, auth: dict[str, str], path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()


async def assert_exact(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    events: list[Ev],
    start: datetime,
    end: datetime,
) -> None:
    selected = in_range(events, start, end)
    window = {"from": iso(start), "to": iso(end)}

    body = await get(client, auth, "/v1/summary", **window)
    expected = truth(selected)
    check(body, expected, "summary")
    assert body["unpriced_runs"] == expected.unpriced
    assert abs(body["unique_users"] - expected.users) <= 0.05 * expected.users
    assert abs(body["unique_sessions"] - expected.sessions) <= 0.05 * expected.sessions

    body = await get(client, auth, "/v1/breakdown", by="agent", **window)
    per_agent = group(selected, lambda e: e.agent)
    assert [row["key"] for row in body["rows"]] == sorted(
        per_agent, key=lambda a: (-len(per_agent[a]), a)
    )
    for row in body["rows"]:
        check(row, truth(per_agent[row["key"]]), f"agent {row['key']}")

    # Other grouping sets: a filter plus a group (agent+model, model+error type kept).
    agent = "coder"
    body = await get(client, auth, "/v1/breakdown", by="model", agent=agent, **window)
    per_model = group([e for e in selected if e.agent == agent], lambda e: e.model)
    assert {row["key"] for row in body["rows"]} == set(per_model)
    for row in body["rows"]:
        check(row, truth(per_model[row["key"]]), f"{agent} model {row['key']}")
    body = await get(client, auth, "/v1/breakdown", by="error_type", model="gpt-4o", **window)
    per_error = group(
        [e for e in selected if e.model == "gpt-4o" and e.error_type], lambda e: e.error_type
    )
    assert {row["key"] for row in body["rows"]} == set(per_error)
    for row in body["rows"]:
        check(row, truth(per_error[row["key"]]), f"gpt-4o error {row['key']}")

    for granularity, step in (("hour", HOUR), ("day", DAY)):
        body = await get(client, auth, "/v1/timeseries", granularity=granularity, **window)
        buckets = group(selected, lambda e, s=step: floor_to(e.started_at, s))
        points = body["points"]
        first, last = floor_to(start, step), floor_to(end - timedelta(microseconds=1), step)
        assert len(points) == (last - first) // step + 1
        for point in points:
            bucket = datetime.fromisoformat(point["bucket"])
            check(point, truth(buckets.get(bucket, [])), f"{granularity} {bucket}")


def assert_sources(state: str, sources: Cover) -> None:
    """Each state exercises the source it is meant to (so the test could fail)."""
    middle_day = floor_to(BASE, DAY) + DAY
    # The range edges (05:17:23.5) cut quarter hours: raw rows only up to the next quarter
    # at the start and from the last quarter at the end; the rest of their hours are
    # quarter-hour rows.
    head, tail = (BASE, floor_to(BASE, QUARTER) + QUARTER), (floor_to(END, QUARTER), END)
    quarters = [head[1], head[1] + QUARTER, floor_to(END, HOUR)]
    if state == "raw":
        assert (sources.daily, sources.hourly, sources.quarters) == ([], [], [])
        assert sources.raw == [(BASE, END)]
    elif state == "rolled":
        assert sources.daily == [middle_day]
        assert (sources.quarters, sources.raw) == (quarters, [head, tail])
    else:
        assert sources.daily == []  # the middle day's daily row is stale
        dirty = [floor_to(BASE, HOUR) + 2 * HOUR, middle_day + 15 * HOUR, middle_day + 20 * HOUR]
        assert sources.quarters == quarters
        assert sources.raw == [head, *((h, h + HOUR) for h in dirty), tail]
        assert len(sources.hourly) == 47 - len(dirty)  # 47 whole hours in the range


@pytest.mark.parametrize("state", ["raw", "rolled", "mixed"])
async def test_answers_equal_ground_truth(
    state: str, pool: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    events = await seed(pool)
    if state == "rolled":
        await roll_all(pool)
    elif state == "mixed":
        events = await make_mixed(pool, events)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM agent_runs WHERE project = 'demo'") == len(
            events
        )
    async with pool.acquire() as conn:
        sources, _, _ = await gather(conn, Selection("demo", BASE, END))
    assert_sources(state, sources)
    await assert_exact(client, auth, events, BASE, END)
    await assert_exact(client, auth, events, *CUT)
