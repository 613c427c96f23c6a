"""``runtally reprice`` against real Postgres: raw runs, ranges, one model, carried costs,
dry runs, and the rollups after the next rollup, all equal to Decimal ground truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from runtally.config import Settings
from runtally.reprice.plan import Window
from runtally.reprice.report import Report
from runtally.reprice.run import Options, reprice
from runtally.rollup.jobs import roll_pending
from tests.integration.reprice.kit import (
    NEW,
    OLD,
    Run,
    insert,
    make_runs,
    raw_costs,
    rollup_rows,
    rollup_truth,
    table,
)

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 10, tzinfo=UTC)  # retention 30 days: every raw run is stored
RUNS = make_runs(3000, seed=16)
NEW_VERSION, OLD_VERSION = table(NEW).version, table(OLD).version


def options(
    first: date | None = None,
    last: date | None = None,
    model: str | None = None,
    apply: bool = True,
    batch_rows: int = 700,
    retention_days: int = 30,
) -> Options:
    return Options(Window.of_dates(first, last, model), apply, batch_rows, retention_days)


async def run_reprice(pool: Any, opts: Options) -> Report:
    async with pool.acquire() as conn:
        return await reprice(conn, table(NEW), opts, NOW)


async def stored(pool: Any, settings: Settings) -> None:
    async with pool.acquire() as conn:
        await insert(conn, RUNS, OLD)
    await roll_pending(pool, settings)


def expected(run: Run, selected: bool) -> tuple[Any, str | None, str | None]:
    """The stored (cost, source, version) of ``run`` after a reprice that selects it or not."""
    if run.event_cost is not None:
        return run.event_cost, "event", None
    cost = run.cost(NEW if selected else OLD)
    return cost, None if cost is None else "price_table", NEW_VERSION if selected else OLD_VERSION


async def check(pool: Any, settings: Settings, selected: Any) -> None:
    """Raw rows, and every rollup row after the next rollup, equal the ground truth."""
    async with pool.acquire() as conn:
        raw = await raw_costs(conn)
    for run in RUNS:
        assert raw[run.event_id] == expected(run, selected(run)), run
    await roll_pending(pool, settings)

    def cost_of(run: Run) -> Any:
        return expected(run, selected(run))[0]

    async with pool.acquire() as conn:
        for level in ("hour", "day"):
            assert await rollup_rows(conn, level) == rollup_truth(RUNS, cost_of, level), level


async def test_reprice_all(pool: Any, settings: Settings) -> None:
    await stored(pool, settings)
    report = await run_reprice(pool, options())
    await check(pool, settings, lambda run: True)
    # Per model: runs (carried costs excluded), changed, cost before and after.
    for model in ("m-a", "m-b", "m-c"):
        mine = [r for r in RUNS if r.model == model and r.event_cost is None]
        line = report.lines[model]
        assert line.runs == len(mine)
        assert line.changed == sum(1 for r in mine if r.cost(OLD) != r.cost(NEW))
        assert line.before == sum(r.cost(OLD) or 0 for r in mine)
        assert line.after == sum(r.cost(NEW) or 0 for r in mine)
    assert report.lines["m-b"].changed == 0
    # m-c had no price: now only runs without tokens stay unpriced.
    async with pool.acquire() as conn:
        unpriced = await conn.fetchval(
            "SELECT sum(unpriced_runs) FROM rollup_daily WHERE dims = 2 AND model = 'm-c'"
        )
    assert unpriced == sum(1 for r in RUNS if r.model == "m-c" and r.cost(NEW) is None) > 0
    assert all(r.tokens[0] is None for r in RUNS if r.model == "m-c" and r.cost(NEW) is None)


async def test_reprice_a_date_range(pool: Any, settings: Settings) -> None:
    await stored(pool, settings)
    await run_reprice(pool, options(date(2026, 6, 2), date(2026, 6, 3)))
    await check(
        pool, settings, lambda run: date(2026, 6, 2) <= run.started_at.date() <= date(2026, 6, 3)
    )


async def test_reprice_one_model(pool: Any, settings: Settings) -> None:
    await stored(pool, settings)
    report = await run_reprice(pool, options(model="m-c"))
    assert set(report.lines) == {"m-c"}
    await check(pool, settings, lambda run: run.model == "m-c")


async def test_dry_run_changes_nothing_and_reports_the_same(pool: Any, settings: Settings) -> None:
    await stored(pool, settings)
    snapshot = "SELECT * FROM {} ORDER BY 1, 2, 3, 4, 5, 6"

    async def state() -> list[Any]:
        async with pool.acquire() as conn:
            return [
                await conn.fetch("SELECT * FROM agent_runs ORDER BY event_id"),
                await conn.fetch(snapshot.format("rollup_hourly")),
                await conn.fetch(snapshot.format("rollup_daily")),
                await conn.fetch("SELECT project, hour FROM rollup_dirty"),
                await conn.fetch("SELECT project, day FROM rollup_dirty_day"),
            ]

    before = await state()
    dry = await run_reprice(pool, options(apply=False))
    assert await state() == before
    assert "dry run, nothing changed" in dry.render()
    applied = await run_reprice(pool, options())
    assert dry.lines == applied.lines
    assert dry.changed > 0


async def test_provider_sent_costs_are_never_changed(pool: Any, settings: Settings) -> None:
    await stored(pool, settings)
    # A table that prices every model: carried costs still win.
    await run_reprice(pool, options())
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_id, cost_usd, price_version FROM agent_runs WHERE cost_source = 'event'"
        )
    carried = {r.event_id: r.event_cost for r in RUNS if r.event_cost is not None}
    assert {r["event_id"]: r["cost_usd"] for r in rows} == carried
    assert all(r["price_version"] is None for r in rows)
