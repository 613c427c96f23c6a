"""Tag rows and top-K rows of the rollup against ground truth computed from the runs:
the value cap with a runaway key (a request id as a tag), ``__other__`` exact, day
merges re-capped, late events, and re-rolls giving identical rows."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from runtally.config import Settings
from runtally.rollup.dimensions import Dimensions
from runtally.rollup.hourly import dirty_hours, roll_hour, roll_hours
from runtally.rollup.jobs import roll_pending
from runtally.rollup.stats import Outcome
from runtally.store.dirty import mark_hours
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 20, 20, tzinfo=UTC)  # 8 hours over two UTC days
HOURS = 8
CAP = 4
TOP_K = 6
KEYS = ("environment", "release", "customer", "request_id")
OTHER = "__other__"


def tags_of(run: kit.Run, rng: random.Random) -> dict[str, str]:
    tags = {"request_id": str(run.event_id), "customer": f"c{int(rng.paretovariate(1.1)) % 40}"}
    if rng.random() < 0.9:
        tags["environment"] = rng.choice(["prod", "prod", "staging", "dev"])
    if rng.random() < 0.5:
        tags["release"] = f"r{rng.randrange(3)}"
    tags["ignored"] = "not rolled up"
    return tags


async def insert(conn: Any, runs: list[kit.Run], tags: dict[Any, dict[str, str]]) -> None:
    async with conn.transaction():
        await conn.copy_records_to_table(
            "agent_runs", records=[r.record() for r in runs], columns=list(kit.COLUMNS)
        )
        await conn.execute(  # COPY has no binary jsonb: set the tags from text
            "UPDATE agent_runs a SET tags = v.t::jsonb "
            "FROM unnest($1::uuid[], $2::text[]) AS v(id, t) WHERE a.event_id = v.id",
            [r.event_id for r in runs],
            [json.dumps(tags[r.event_id]) for r in runs],
        )
        await mark_hours(conn, {(r.project, kit.hour_of(r.started_at)) for r in runs})


def capped(runs_of: dict[str, int], cap: int) -> dict[str, str]:
    """value -> the value it is stored under (itself, or __other__)."""
    ranked = sorted((v for v in runs_of if v != OTHER), key=lambda v: (-runs_of[v], v))
    kept = set(ranked[:cap])
    return {v: v if v in kept else OTHER for v in runs_of}


def stored_values(runs: list[kit.Run], tags: dict[Any, dict[str, str]]) -> list[Any]:
    """(run, (hour, key), the value it is stored under after the hour's cap), for every
    rolled-up key a run carries."""
    carried = [(run, (kit.hour_of(run.started_at), key), tags[run.event_id][key])
               for run in runs for key in KEYS if key in tags[run.event_id]]  # fmt: skip
    raw: dict[tuple[datetime, str], Counter[str]] = defaultdict(Counter)
    for _, group, value in carried:
        raw[group][value] += 1
    maps = {group: capped(dict(counts), CAP) for group, counts in raw.items()}
    return [(run, group, maps[group][value]) for run, group, value in carried]


def hourly_truth(runs: list[kit.Run], tags: dict[Any, dict[str, str]]) -> dict[Any, Any]:
    """(hour, key, value) -> [runs, cost, input tokens] after the hour's cap."""
    out: dict[Any, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for run, (hour, key), value in stored_values(runs, tags):
        cell = out[(hour, key, value)]
        cell[0] += 1
        cell[1] += run.cost_usd or 0
        cell[2] += run.input_tokens or 0
    return dict(out)


def combos_truth(runs: list[kit.Run], tags: dict[Any, dict[str, str]],
                 min_runs: int) -> set[tuple[datetime, str]]:  # fmt: skip
    """The (hour, key) groups whose capped (value, agent, model, error type) combinations
    average at least ``min_runs`` runs each: those keep their combination rows."""
    runs_of: Counter[tuple[datetime, str]] = Counter()
    combos: dict[tuple[datetime, str], set[tuple[str, ...]]] = defaultdict(set)
    for run, group, value in stored_values(runs, tags):
        runs_of[group] += 1
        combos[group].add((value, run.agent, run.model, run.error_type or ""))
    return {g for g, n in runs_of.items() if n >= min_runs * len(combos[g])}


def daily_truth(hourly: dict[Any, Any]) -> dict[Any, Any]:
    per_day: dict[Any, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for (hour, key, value), cell in hourly.items():
        target = per_day[(kit.day_of(hour), key, value)]
        for i in range(3):
            target[i] += cell[i]
    counts: dict[Any, dict[str, int]] = defaultdict(dict)
    for (day, key, value), cell in per_day.items():
        counts[(day, key)][value] = cell[0]
    out: dict[Any, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0])
    for (day, key, value), cell in per_day.items():
        stored = capped(counts[(day, key)], CAP)[value]
        for i in range(3):
            out[(day, key, stored)][i] += cell[i]
    return dict(out)


async def stored(conn: Any, table: str) -> dict[Any, Any]:
    rows = await conn.fetch(
        f"SELECT bucket, tag_key, tag_value, runs, cost_usd, input_tokens FROM {table} "
        "WHERE dims = 0"
    )
    return {(r["bucket"], r["tag_key"], r["tag_value"]): [r["runs"], r["cost_usd"],
            r["input_tokens"]] for r in rows}  # fmt: skip


def top_truth(runs: list[kit.Run]) -> dict[datetime, tuple[list[str], Decimal, int]]:
    """Per hour: the top K users by (cost, runs, id), the remainder's cost and id count."""
    per: dict[datetime, dict[str, list[Any]]] = defaultdict(dict)
    for run in runs:
        if run.user_id is not None:
            cell = per[kit.hour_of(run.started_at)].setdefault(run.user_id, [Decimal(0), 0])
            cell[0] += run.cost_usd or 0
            cell[1] += 1
    out = {}
    for hour, users in per.items():
        order = sorted(users, key=lambda u: (-users[u][0], -users[u][1], u))
        rest = sum((users[u][0] for u in order[TOP_K:]), Decimal(0))
        out[hour] = (order[:TOP_K], rest, len(order) - TOP_K)
    return out


async def stored_top(conn: Any) -> dict[datetime, tuple[list[str], Decimal, int]]:
    rows = await conn.fetch(
        "SELECT bucket, is_rest, item, cost_usd, items FROM rollup_top_hourly "
        "WHERE kind = 'user' ORDER BY bucket, cost_usd DESC, runs DESC, item COLLATE \"C\""
    )
    out: dict[datetime, Any] = defaultdict(lambda: [[], Decimal(0), 0])
    for r in rows:
        if r["is_rest"]:
            out[r["bucket"]][1:] = [r["cost_usd"], r["items"]]
        else:
            out[r["bucket"]][0].append(r["item"])
    return {bucket: tuple(cell) for bucket, cell in out.items()}


async def test_tag_and_top_rows_match_the_runs_before_and_after_late_events(
    pool: Any, settings: Settings
) -> None:
    # 8 runs per combination: about half the (hour, key) groups keep their combinations
    settings = settings.model_copy(
        update={"rollup_tags": "customer,request_id", "tag_value_cap": CAP, "rollup_top_k": TOP_K,
                "tag_combo_min_runs": 8}
    )  # fmt: skip
    rng = random.Random(8)
    runs = kit.make_runs(6_000, START, HOURS, seed=31)
    tags = {r.event_id: tags_of(r, rng) for r in runs}
    on_time, late = runs[:5_000], runs[5_000:]
    async with pool.acquire() as conn:
        await insert(conn, on_time, tags)
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        truth = hourly_truth(on_time, tags)
        assert await stored(conn, "rollup_tag_hourly") == truth
        assert await stored(conn, "rollup_tag_daily") == daily_truth(truth)
        assert await stored_top(conn) == top_truth(on_time)
        await insert(conn, late, tags)  # late events re-dirty their hours
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        truth = hourly_truth(runs, tags)
        assert await stored(conn, "rollup_tag_hourly") == truth
        assert await stored(conn, "rollup_tag_daily") == daily_truth(truth)
        assert await stored_top(conn) == top_truth(runs)
        # the runaway key: at most CAP values + __other__ per bucket, sums exact
        per_bucket = Counter(b for (b, k, _v) in truth if k == "request_id")
        assert max(per_bucket.values()) == CAP + 1
        # every grouping set of a key holds all its runs
        sums = await conn.fetch(
            "SELECT bucket, tag_key, dims, sum(runs) AS runs FROM rollup_tag_hourly "
            "GROUP BY 1, 2, 3"
        )
        expected: Counter[tuple[datetime, str]] = Counter()
        for (hour, key, _v), cell in truth.items():
            expected[(hour, key)] += cell[0]
        assert all(r["runs"] == expected[(r["bucket"], r["tag_key"])] for r in sums)
        assert {r["dims"] for r in sums} == {0, 1, 2, 4, 3}
        # combinations are kept where they compress, and only there (both happen here)
        kept = combos_truth(runs, tags, settings.tag_combo_min_runs)
        assert kept
        assert len(kept) < len(expected)
        assert {(r["bucket"], r["tag_key"]) for r in sums if r["dims"]} == kept


async def snapshot(pool: Any, tables: tuple[str, ...]) -> list[Any]:
    """Every row of ``tables`` but the last column (when it was written), sorted."""
    async with pool.acquire() as conn:
        # Float sums compare within 1e-12: Postgres adds rows in hash-table order.
        return [
            sorted(
                tuple(kit.Close(v) if isinstance(v, float) else v for v in r.values())[:-1]
                for r in await conn.fetch(f"SELECT * FROM {t}")
            )
            for t in tables
        ]


async def test_rerolling_gives_identical_tag_and_top_rows(pool: Any, settings: Settings) -> None:
    settings = settings.model_copy(update={"rollup_tags": "customer", "tag_value_cap": CAP})
    rng = random.Random(9)
    runs = kit.make_runs(3_000, START, 4, seed=32)
    tags = {r.event_id: tags_of(r, rng) for r in runs}
    tables = ("rollup_tag_hourly", "rollup_tag_daily", "rollup_top_hourly", "rollup_top_daily")
    async with pool.acquire() as conn:
        await insert(conn, runs, tags)
    await roll_pending(pool, settings)
    before = await snapshot(pool, tables)
    assert all(before)
    async with pool.acquire() as conn:
        await kit.redirty_everything(conn)
    await roll_pending(pool, settings)
    assert await snapshot(pool, tables) == before


class CountingPool:
    """``pool``, counting the connections it handed out."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.acquired = 0

    @asynccontextmanager
    async def acquire(self, *, timeout: float | None = None) -> AsyncIterator[Any]:
        async with self.pool.acquire(timeout=timeout) as conn:
            self.acquired += 1
            yield conn

    async def close(self) -> None:
        await self.pool.close()


async def test_a_side_connection_for_the_tag_aggregate_gives_the_same_rows(
    pool: Any, settings: Settings
) -> None:
    settings = settings.model_copy(update={"rollup_tags": "customer,request_id",
                                           "tag_value_cap": CAP})  # fmt: skip
    dims = Dimensions.from_settings(settings)
    rng = random.Random(5)
    runs = kit.make_runs(3_000, START, 4, seed=33)
    tables = ("rollup_tag_hourly", "rollup_top_hourly")
    async with pool.acquire() as conn:
        await insert(conn, runs, {r.event_id: tags_of(r, rng) for r in runs})
    counting = CountingPool(pool)
    assert (await roll_hours(counting, 100, dims=dims)).cleared == 4
    assert counting.acquired == 2  # the pass's connection and the spare one
    with_side = await snapshot(pool, tables)
    assert all(with_side)
    async with pool.acquire() as conn:
        await kit.redirty_everything(conn)
        for project, hour in await dirty_hours(conn, 100):
            assert (await roll_hour(conn, project, hour, dims))[0] is Outcome.CLEARED
    assert await snapshot(pool, tables) == with_side
