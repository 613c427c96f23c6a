"""Local days of registered zones (``rollup.zones``): every row of ``rollup_zone_daily``,
at every grouping set, equals ground truth computed here with ``zoneinfo`` from the
generated runs (sums, min/max, latency bins) — across New York's 23-hour day and in
Kolkata, whose days start at 18:30 UTC (quarter-hour rows at both edges). Also: a zone
registered after its hours were rolled (its days are marked from the hourly rows), a
late run that re-rolls its local day, a day left waiting while one of its hours is
dirty, and a zone dropped from the settings (its rows and markers go with it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from runtally.config import Settings
from runtally.rollup.hourly import roll_hours
from runtally.rollup.jobs import run_pending
from runtally.rollup.stats import Outcome
from runtally.rollup.zones import mark_zone_days, roll_zone_day, roll_zone_days

from . import kit

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 6, 12, tzinfo=UTC)  # New York's 2026-03-08 has 23 hours
HOURS = 96
NEW_YORK, KOLKATA = "America/New_York", "Asia/Kolkata"
K_DAY = datetime(2026, 3, 8, 18, 30, tzinfo=UTC)  # Kolkata's 2026-03-09


def local_midnight(zone: str) -> Any:
    """Ground truth: a run's bucket is the UTC instant of its local date's midnight."""
    tz = ZoneInfo(zone)

    def cut(moment: datetime) -> datetime:
        local = moment.astimezone(tz)
        return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)

    return cut


def zoned(settings: Settings, *zones: str) -> Settings:
    return settings.model_copy(update={"rollup_zones": ",".join(zones)})


async def assert_zone_matches(conn: Any, zone: str, runs: list[kit.Run],
                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The zone's rows equal ground truth (``kit.assert_table_matches`` on a view)."""
    view = f"zone_{zone.replace('/', '_').lower()}"
    await conn.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM rollup_zone_daily"
        f" WHERE zone = '{zone}'"
    )
    monkeypatch.setitem(kit.CUTS, zone, local_midnight(zone))
    await kit.assert_table_matches(conn, view, runs, zone)


async def markers(conn: Any) -> list[tuple[str, datetime]]:
    rows = await conn.fetch("SELECT zone, day FROM rollup_dirty_zone_day ORDER BY zone, day")
    return [(row["zone"], row["day"]) for row in rows]


async def markers_of(pool: Any) -> list[tuple[str, datetime]]:
    async with pool.acquire() as conn:
        return await markers(conn)


async def stored(pool: Any, n: int, seed: int) -> list[kit.Run]:
    """``n`` runs over ``HOURS`` hours from ``START``, stored as ingest stores them."""
    runs = kit.make_runs(n, START, HOURS, seed=seed)
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, runs)
    return runs


async def test_zone_days_equal_ground_truth(
    pool: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = await stored(pool, 6_000, 91)
    done = await run_pending(zoned(settings, NEW_YORK, KOLKATA))
    assert done.dirty_days == 0
    async with pool.acquire() as conn:
        assert await markers(conn) == []
        for zone in (NEW_YORK, KOLKATA):
            await assert_zone_matches(conn, zone, runs, monkeypatch)
        days = await conn.fetch(
            "SELECT DISTINCT bucket FROM rollup_zone_daily WHERE zone = $1 ORDER BY bucket",
            NEW_YORK,
        )
    starts = [row["bucket"] for row in days]
    assert datetime(2026, 3, 8, 5, tzinfo=UTC) in starts  # the 23-hour day: 05:00 to 04:00
    assert datetime(2026, 3, 9, 4, tzinfo=UTC) in starts


async def test_zone_registered_later_then_dropped(
    pool: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = await stored(pool, 3_000, 92)
    await run_pending(settings)  # no zone: hours and UTC days only
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM rollup_zone_daily") == 0
    await run_pending(zoned(settings, KOLKATA, NEW_YORK))  # marked from the hourly rows
    async with pool.acquire() as conn:
        for zone in (NEW_YORK, KOLKATA):
            await assert_zone_matches(conn, zone, runs, monkeypatch)
        async with conn.transaction():  # a marker of each zone...
            await mark_zone_days(conn, kit.PROJECT, [START])
        assert {zone for zone, _ in await markers(conn)} == {NEW_YORK, KOLKATA}
    await run_pending(zoned(settings, KOLKATA))  # ...and New York's rows go with it
    async with pool.acquire() as conn:
        zones = await conn.fetch("SELECT DISTINCT zone FROM rollup_zone_daily")
        assert [row["zone"] for row in zones] == [KOLKATA]
        assert await markers(conn) == []
        assert [r["zone"] for r in await conn.fetch("SELECT zone FROM rollup_zones")] == [KOLKATA]
        await assert_zone_matches(conn, KOLKATA, runs, monkeypatch)


async def test_late_runs_reroll_their_local_days(
    pool: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = zoned(settings, NEW_YORK, KOLKATA)
    runs = await stored(pool, 3_000, 93)
    await run_pending(both)
    # 06:00 UTC is in New York's 2026-03-08; 18:40 UTC starts Kolkata's 2026-03-09.
    late = kit.make_runs(200, datetime(2026, 3, 8, 6, tzinfo=UTC), 1, seed=94)
    late += [r for r in kit.make_runs(400, datetime(2026, 3, 8, 18, tzinfo=UTC), 1, seed=95)
             if r.started_at.minute >= 40]  # fmt: skip
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, late)
    await roll_hours(pool, 100)  # rolling the hours marks the local days they touch
    assert await markers_of(pool) == [(NEW_YORK, datetime(2026, 3, 8, 5, tzinfo=UTC)),
                                      (KOLKATA, datetime(2026, 3, 7, 18, 30, tzinfo=UTC)),
                                      (KOLKATA, K_DAY)]  # fmt: skip
    again = [replace(kit.make_runs(1, START, 1, seed=96)[0],
                     started_at=datetime(2026, 3, 8, 18, 50, tzinfo=UTC))]  # fmt: skip
    async with pool.acquire() as conn:
        await kit.insert_runs(conn, again)  # 18:00 UTC dirty again: its days must wait
        assert (await roll_zone_days(pool, 100, both.zones)).found == 0  # none is ready
        outcome, _ = await roll_zone_day(conn, kit.PROJECT, KOLKATA, K_DAY)
    assert outcome is Outcome.WAITING
    await run_pending(both)
    async with pool.acquire() as conn:
        assert await markers(conn) == []
        for zone in (NEW_YORK, KOLKATA):
            await assert_zone_matches(conn, zone, runs + late + again, monkeypatch)
