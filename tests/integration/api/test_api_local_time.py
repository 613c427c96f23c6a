"""Local time (``tz=``): days from local midnight, hours with their local offset and
plain-date ranges, exact against ground truth computed here with ``zoneinfo`` from the
events alone — around DST changes in both directions (New York, Berlin, Adelaide) and in
the +5:30/+5:45 zones — before any rollup, after the rollups, and with late events
(re-dirtied hours, a stale day). Once rolled up, local days and hours are answered from
rollup rows only (no raw rows) whatever the zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from runtally.api.cover import Cover
from runtally.api.gather import gather
from runtally.rollup.hourly import roll_hours
from runtally.store.selection import Selection

from .data import Ev, check, generate, group, in_range, store, truth
from .test_api_exact import get, roll_all

pytestmark = pytest.mark.integration

SPRING = datetime(2026, 3, 6, tzinfo=UTC)  # NY springs forward 03-08, Berlin 03-29, Adelaide
AUTUMN = datetime(2026, 10, 2, tzinfo=UTC)  # falls back 04-05; then the reverse in autumn
SPAN = timedelta(days=32)
HOUR = timedelta(hours=1)
WINDOWS = [
    # (zone, first local date, last local date (exclusive)): each holds a DST day or an
    # odd offset.
    ("America/New_York", date(2026, 3, 7), date(2026, 3, 10)),  # a 23-hour day
    ("America/New_York", date(2026, 10, 31), date(2026, 11, 3)),  # a 25-hour day
    ("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 31)),
    ("Europe/Berlin", date(2026, 10, 24), date(2026, 10, 27)),
    ("Asia/Kolkata", date(2026, 3, 7), date(2026, 3, 10)),
    ("Asia/Kathmandu", date(2026, 10, 3), date(2026, 10, 6)),
    ("Australia/Adelaide", date(2026, 4, 4), date(2026, 4, 7)),  # +10:30 → +9:30
    ("Australia/Adelaide", date(2026, 10, 3), date(2026, 10, 6)),  # +9:30 → +10:30
]
ZONES = tuple(sorted({name for name, _, _ in WINDOWS}))


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """Ground truth: the UTC instant of local midnight (every window's midnights exist)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def local_day(event: Ev, tz: ZoneInfo) -> date:
    return event.started_at.astimezone(tz).date()


def local_hour(event: Ev, tz: ZoneInfo) -> tuple[date, int, timedelta | None]:
    local = event.started_at.astimezone(tz)
    return local.date(), local.hour, local.utcoffset()


def local_hours(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[Any, ...]]:
    """Every (local date, hour, offset) of ``[start, end)`` in time order, minute by
    minute as zoneinfo reports them."""
    out: list[tuple[Any, ...]] = []
    moment = start
    while moment < end:
        local = moment.astimezone(tz)
        key = (local.date(), local.hour, local.utcoffset())
        if not out or out[-1] != key:
            out.append(key)
        moment += timedelta(minutes=1)
    return out


async def seed(pool: Any) -> list[Ev]:
    events = generate(30_000, SPRING, SPAN, seed=15) + generate(30_000, AUTUMN, SPAN, seed=16)
    for part in (events[:30_000], events[30_000:]):
        assert await store(pool, part) == len(part)
    return events


async def make_late(pool: Any, events: list[Ev], zones: tuple[str, ...] = ()) -> list[Ev]:
    """After the rollups (local days of ``zones`` too): late events into a rolled hour
    (rolled again, its days left stale) and into hours left dirty, one at 18:40 UTC
    (inside Kolkata's midnight hour)."""
    await roll_all(pool, zones)
    late = generate(200, datetime(2026, 3, 8, 6, tzinfo=UTC), timedelta(hours=1), seed=17)
    await store(pool, late)
    await roll_hours(pool, 1000)
    dirty = generate(150, datetime(2026, 3, 8, 18, 40, tzinfo=UTC), timedelta(minutes=10), 18)
    dirty += generate(150, datetime(2026, 10, 25, 0, 5, tzinfo=UTC), timedelta(hours=2), 19)
    await store(pool, dirty)
    return events + late + dirty


async def assert_window(
    client: httpx.AsyncClient, auth: dict[str, str], events: list[Ev], window: tuple[Any, ...]
) -> None:
    name, first, last = window
    tz = ZoneInfo(name)
    start, end = midnight(first, tz), midnight(last, tz)
    selected = in_range(events, start, end)
    params = {"from": first.isoformat(), "to": last.isoformat(), "tz": name}

    body = await get(client, auth, "/v1/summary", **params)
    check(body, truth(selected), f"{name} summary")
    assert datetime.fromisoformat(body["from"]) == start
    assert datetime.fromisoformat(body["to"]) == end

    body = await get(client, auth, "/v1/breakdown", by="agent", **params)
    per_agent = group(selected, lambda e: e.agent)
    assert {row["key"] for row in body["rows"]} == set(per_agent)
    for row in body["rows"]:
        check(row, truth(per_agent[row["key"]]), f"{name} agent {row['key']}")

    body = await get(client, auth, "/v1/timeseries", granularity="day", **params)
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    assert [datetime.fromisoformat(p["bucket"]) for p in body["points"]] == [
        midnight(day, tz) for day in days
    ]
    per_day = group(selected, lambda e: local_day(e, tz))
    for point, day in zip(body["points"], days, strict=True):
        label = datetime.fromisoformat(point["bucket"])
        assert (label.utcoffset(), label.time()) == (midnight(day, tz).astimezone(tz).utcoffset(),
                                                     datetime.min.time())  # fmt: skip
        check(point, truth(per_day.get(day, [])), f"{name} day {day}")

    body = await get(client, auth, "/v1/timeseries", granularity="hour", **params)
    per_hour = group(selected, lambda e: local_hour(e, tz))
    hours = local_hours(start, end, tz)
    labels = [datetime.fromisoformat(p["bucket"]) for p in body["points"]]
    assert len(labels) == len(hours) == round((end - start) / timedelta(hours=1))
    assert set(per_hour) <= set(hours)
    for point, label, hour in zip(body["points"], labels, hours, strict=True):
        assert (label.date(), label.hour, label.utcoffset()) == hour
        assert label.minute == 0
        check(point, truth(per_hour.get(hour, [])), f"{name} hour {label.isoformat()}")


@pytest.mark.parametrize("state", ["raw", "rolled", "late", "zoned", "zoned-late"])
async def test_local_days_and_hours_equal_ground_truth(
    state: str, pool: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    """``zoned``: every zone here registered, its local days rolled (``rollup.zones``)."""
    events = await seed(pool)
    zones = ZONES if state.startswith("zoned") else ()
    if state in ("rolled", "zoned"):
        await roll_all(pool, zones)
    elif state.endswith("late"):
        events = await make_late(pool, events, zones)
    for window in WINDOWS:
        await assert_window(client, auth, events, window)


async def test_local_days_of_registered_zones_come_from_their_rows(pool: Any) -> None:
    """Rolled, a whole local day of a registered zone is its own row; with a late event
    rolled into one of its hours (its day marked, not yet rolled again) the day is merged
    from hourly rows as before."""
    await seed(pool)
    await roll_all(pool, ZONES)
    for name, first, last in WINDOWS:
        tz = ZoneInfo(name)
        selection = Selection("demo", midnight(first, tz), midnight(last, tz))
        async with pool.acquire() as conn:
            sources, parts, _ = await gather(conn, selection, "day", tz=tz, distinct=False)
        assert sources == Cover(), name
        assert sorted({key.bucket for key, _ in parts}) == [
            midnight(first + timedelta(days=i), tz) for i in range((last - first).days)
        ]
    late = generate(20, datetime(2026, 3, 8, 6, tzinfo=UTC), timedelta(hours=1), seed=20)
    await store(pool, late)
    await roll_hours(pool, 1000)
    tz = ZoneInfo("America/New_York")
    selection = Selection("demo", midnight(date(2026, 3, 7), tz), midnight(date(2026, 3, 10), tz))
    async with pool.acquire() as conn:
        sources, _, _ = await gather(conn, selection, "day", tz=tz)
    assert sources.hourly == [midnight(date(2026, 3, 8), tz) + i * HOUR for i in range(23)]
    assert sources.daily == sources.quarters == sources.raw == []


async def test_rolled_local_days_come_from_rollup_rows_only(pool: Any) -> None:
    await seed(pool)
    await roll_all(pool)
    for name, first, last in WINDOWS:
        tz = ZoneInfo(name)
        selection = Selection("demo", midnight(first, tz), midnight(last, tz))
        async with pool.acquire() as conn:
            for granularity in ("day", "hour", None):
                sources, _, _ = await gather(conn, selection, granularity, tz=tz)
                assert sources.raw == [], (name, granularity)
                odd = tz.utcoffset(datetime(2026, 1, 1)) % timedelta(hours=1)
                assert bool(sources.quarters) == bool(odd), (name, granularity)


BAD = [
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ({"tz": "america/new_york"}, "unknown time zone"),
    ({"tz": ""}, "tz"),
    ({"tz": "Europe/Berlin", "from": "2026-02-30"}, "from"),
    ({"tz": "Europe/Berlin", "from": "2026-03-08T10:00:00"}, "timezone"),
    ({"tz": "Europe/Berlin", "from": "2026-03-09", "to": "2026-03-08"}, "before"),
]


@pytest.mark.parametrize("path", ["/v1/summary", "/v1/timeseries", "/v1/breakdown"])
@pytest.mark.parametrize(("params", "words"), BAD)
async def test_bad_zones_and_dates_get_422_with_a_message(
    path: str, params: dict[str, str], words: str, client: httpx.AsyncClient,
    auth: dict[str, str],
) -> None:  # fmt: skip
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 422, response.text
    assert words in response.json()["message"]
