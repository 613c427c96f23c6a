"""Tag filters, breakdowns and series, and top users/sessions, against ground truth from
the events: raw only, after the rollups, and with late events (re-dirtied hours); the
cap folding a customer key; keys that are not rolled up; the 422s."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from runtally.config import Settings
from runtally.grid import HOUR, floor_to
from runtally.rollup.jobs import roll_pending
from runtally.store import partitions
from runtally.store.writes import COLUMNS, insert_runs

from .data import Ev, check, generate, group, in_range, iso, record, truth

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
BASE = floor_to(NOW - timedelta(days=3), HOUR) + timedelta(minutes=17, seconds=3)
SPAN = timedelta(hours=50)
END = BASE + SPAN
TAGS: dict[Any, dict[str, str]] = {}


def tags_of(e: Ev) -> dict[str, str]:
    rng = random.Random(e.event_id.int)
    tags = {"customer": f"c{int(rng.paretovariate(1.0)) % 30}", "region": rng.choice("ab")}
    if rng.random() < 0.9:
        tags["environment"] = rng.choice(["prod", "prod", "staging", "dev"])
    if rng.random() < 0.6:
        tags["release"] = f"r{rng.randrange(3)}"
    return tags


@pytest.fixture(params=[1, 1000], ids=["with-combinations", "no-combinations"])
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Tag rows with every grouping set (min runs 1), or set 0 only (no bucket averages
    1,000 runs per row): the combination questions are then answered from raw rows."""
    return settings.model_copy(
        update={"rollup_tags": "customer", "tag_value_cap": 4, "rollup_top_k": 40,
                "tag_combo_min_runs": request.param}
    )  # fmt: skip


async def store_tagged(pool: Any, events: list[Ev]) -> None:
    index = COLUMNS.index("tags")
    records = []
    for e in events:
        TAGS[e.event_id] = tags_of(e)
        row = list(record(e))
        row[index] = json.dumps(TAGS[e.event_id])
        records.append(tuple(row))
    async with pool.acquire() as conn:
        await partitions.ensure_partitions(conn, BASE.date(), END.date())
        await insert_runs(conn, records)


def has(e: Ev, **tags: str) -> bool:
    return all(TAGS[e.event_id].get(k) == v for k, v in tags.items())


async def get(client: httpx.AsyncClient, auth: dict[str, str], path: str,
              **params: Any) -> dict[str, Any]:  # fmt: skip
    params = {"from": iso(BASE), "to": iso(END), **params}
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def check_everything(client: httpx.AsyncClient, auth: dict[str, str],
                           events: list[Ev], rolled: bool) -> None:  # fmt: skip
    evs = in_range(events, BASE, END)
    body = await get(client, auth, "/v1/summary", tag="environment:prod")
    check(body, truth(e for e in evs if has(e, environment="prod")), "env=prod")
    body = await get(client, auth, "/v1/summary", tag="environment:prod", agent="planner")
    check(body, truth(e for e in evs if has(e, environment="prod") and e.agent == "planner"),
          "env=prod agent=planner")  # fmt: skip
    assert body["basis"]["source"] == "rollups"
    body = await get(client, auth, "/v1/breakdown", by="tag:environment")
    groups = group((e for e in evs if "environment" in TAGS[e.event_id]),
                   lambda e: TAGS[e.event_id]["environment"])  # fmt: skip
    assert [r["key"] for r in body["rows"]] == sorted(groups, key=lambda k: -len(groups[k]))
    for row in body["rows"]:
        check(row, truth(groups[row["key"]]), f"by env {row['key']}")
    body = await get(client, auth, "/v1/breakdown", by="model", tag="release:r1")
    for row in body["rows"]:
        check(row, truth(e for e in evs if has(e, release="r1") and e.model == row["key"]),
              f"release r1 model {row['key']}")  # fmt: skip
    for customer in ("c0", "c17"):  # a combination of a capped key, folded or not
        body = await get(client, auth, "/v1/breakdown", by="agent", tag=f"customer:{customer}")
        for row in body["rows"]:
            check(row, truth(e for e in evs if has(e, customer=customer)
                             and e.agent == row["key"]), f"{customer} {row['key']}")  # fmt: skip
    await check_series(client, auth, evs)
    await check_folded_and_raw(client, auth, evs, rolled)


async def check_series(client: httpx.AsyncClient, auth: dict[str, str], evs: list[Ev]) -> None:
    body = await get(client, auth, "/v1/timeseries", granularity="hour", group_by="tag:release")
    for series in body["series"]:
        mine = [e for e in evs if has(e, release=series["key"])]
        for point in series["points"]:
            bucket = datetime.fromisoformat(point["bucket"])
            cell = [e for e in mine if floor_to(e.started_at, HOUR) == bucket]
            assert point["runs"] == len(cell), (series["key"], bucket)
            assert Decimal(repr(point["cost_usd"])) == sum(
                (e.cost_usd or Decimal(0) for e in cell), Decimal(0)
            )
    assert {s["key"] for s in body["series"]} == {"r0", "r1", "r2"}
    await check_local_series(client, auth, evs)


async def check_local_series(client: httpx.AsyncClient, auth: dict[str, str],
                             evs: list[Ev]) -> None:  # fmt: skip
    """Local days of a +5:30 zone (no tag rows fit them): raw rows, exact, said in basis."""
    body = await get(client, auth, "/v1/timeseries", granularity="day",
                     group_by="tag:release", tz="Asia/Kolkata")  # fmt: skip
    assert body["basis"]["source"] == "raw"
    kolkata = ZoneInfo("Asia/Kolkata")
    for series in body["series"]:
        starts = [datetime.fromisoformat(p["bucket"]) for p in series["points"]]
        assert all(s.utcoffset() == timedelta(hours=5, minutes=30) for s in starts)
        assert all(s.astimezone(kolkata).time() == time(0) for s in starts[1:])
        for point, a, b in zip(series["points"], starts, [*starts[1:], END], strict=True):
            cell = [e for e in evs if has(e, release=series["key"]) and a <= e.started_at < b]
            assert point["runs"] == len(cell), (series["key"], a)
            assert Decimal(repr(point["cost_usd"])) == sum(
                (e.cost_usd or Decimal(0) for e in cell), Decimal(0)
            )


async def check_folded_and_raw(client: httpx.AsyncClient, auth: dict[str, str],
                               evs: list[Ev], rolled: bool) -> None:  # fmt: skip
    # customer is rolled up with a cap of 4 values per bucket: rare customers are folded,
    # and a filter on one is still exact (its folded buckets are read from raw rows).
    for customer in ("c1", "c17", "c29"):
        body = await get(client, auth, "/v1/summary", tag=f"customer:{customer}")
        check(body, truth(e for e in evs if has(e, customer=customer)), customer)
    body = await get(client, auth, "/v1/breakdown", by="tag:customer")
    assert sum(r["runs"] for r in body["rows"]) == len(evs)
    # raw rows list every value; once rolled up, customers beyond the cap are __other__
    assert ("__other__" in {r["key"] for r in body["rows"]}) is rolled
    # region is not rolled up; two keys at once neither: raw rows, said in the answer
    body = await get(client, auth, "/v1/summary", tag="region:a")
    check(body, truth(e for e in evs if has(e, region="a")), "region a")
    assert body["basis"]["source"] == "raw"
    body = await get(client, auth, "/v1/summary", tag=["environment:prod", "release:r2"])
    check(body, truth(e for e in evs if has(e, environment="prod", release="r2")), "two keys")
    assert body["basis"]["source"] == "raw"
    body = await get(client, auth, "/v1/breakdown", by="tag:region", tag="environment:dev")
    groups = group((e for e in evs if has(e, environment="dev")),
                   lambda e: TAGS[e.event_id]["region"])  # fmt: skip
    assert {r["key"]: r["runs"] for r in body["rows"]} == {k: len(v) for k, v in groups.items()}


def exact_top(evs: list[Ev]) -> list[tuple[str, Decimal, int]]:
    per: dict[str, list[Any]] = {}
    for e in evs:
        if e.user_id is not None:
            cell = per.setdefault(e.user_id, [Decimal(0), 0])
            cell[0] += e.cost_usd or 0
            cell[1] += 1
    order = sorted(per, key=lambda u: (-per[u][0], -per[u][1], u))
    return [(u, per[u][0], per[u][1]) for u in order]


async def check_top_users(client: httpx.AsyncClient, auth: dict[str, str],
                          events: list[Ev]) -> None:  # fmt: skip
    evs = in_range(events, BASE, END)
    exact = exact_top(evs)
    truth_of = {u: (cost, runs) for u, cost, runs in exact}
    body = await get(client, auth, "/v1/breakdown", by="user", limit=10)
    assert body["basis"]["source"] == "top_k"
    for row in body["rows"]:
        cost, runs = truth_of[row["key"]]
        assert Decimal(repr(row["cost_usd"])) <= cost <= Decimal(repr(row["cost_usd_max"]))
        assert row["runs"] <= runs
        gap = cost - Decimal(repr(row["cost_usd"]))
        assert gap <= Decimal(repr(body["basis"]["error_bound_usd"])) + Decimal("1e-9")
    if not body["basis"]["approximate"]:
        assert [r["key"] for r in body["rows"]] == [u for u, _, _ in exact[:10]]
    # a short range is answered exactly from raw rows
    day_end = BASE + timedelta(hours=20)
    body = await get(client, auth, "/v1/breakdown", by="user", limit=10, to=iso(day_end))
    assert body["basis"]["source"] == "raw"
    short = exact_top(in_range(events, BASE, day_end))[:10]
    assert [(r["key"], r["runs"]) for r in body["rows"]] == [(u, n) for u, _, n in short]


async def test_tags_and_top_users_raw_rolled_and_late(
    client: httpx.AsyncClient, auth: dict[str, str], pool: Any, settings: Settings
) -> None:
    events = generate(12_000, BASE, SPAN, seed=21)
    await store_tagged(pool, events)
    await check_everything(client, auth, events, rolled=False)  # nothing rolled up: all raw
    await roll_pending(pool, settings)
    async with pool.acquire() as conn:
        combinations = await conn.fetchval("SELECT count(*) FROM rollup_tag_daily WHERE dims <> 0")
    assert (combinations > 0) is (settings.tag_combo_min_runs == 1)
    await check_everything(client, auth, events, rolled=True)
    await check_top_users(client, auth, events)
    late = generate(1_500, BASE, SPAN, seed=22)  # late events re-dirty their hours
    await store_tagged(pool, late)
    # every hour got late events: all of it is read raw again until the next rollup
    await check_everything(client, auth, events + late, rolled=False)
    await roll_pending(pool, settings)
    await check_everything(client, auth, events + late, rolled=True)
    await check_top_users(client, auth, events + late)


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/v1/summary", {"tag": "environment"}, "is not `tag=<key>:<value>`"),
        ("/v1/summary", {"tag": "environment:"}, "is not `tag=<key>:<value>`"),
        ("/v1/summary", {"tag": ":prod"}, "a tag key is 1-64"),
        ("/v1/summary", {"tag": "environment:__other__"}, "not `__other__`"),
        ("/v1/summary", {"tag": ["environment:a", "environment:b"]}, "two values"),
        ("/v1/breakdown", {"by": "region"}, "unknown `by=region`"),
        ("/v1/breakdown", {"by": "tag:"}, "a tag key is 1-64"),
        ("/v1/timeseries", {"group_by": "error_type"}, "unknown `group_by=error_type`"),
    ],
)
async def test_bad_tag_parameters_are_422_listing_the_rolled_up_keys(
    client: httpx.AsyncClient, auth: dict[str, str], path: str, params: dict[str, Any],
    needle: str,
) -> None:  # fmt: skip
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert needle in message
    if "two values" not in needle and "__other__" not in needle:
        assert "`environment`, `release`, `customer`" in message
