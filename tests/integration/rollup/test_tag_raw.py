"""``aggregate_by_tag`` (the raw side of tag answers: one hashed pass, no cap) against
the tag rollup's statement with no cap, projected to the same grouping set: the same
tallies per bucket and value, including JSON ``null``, ``__other__`` and non-string values, runs
without the key left out."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.cube import AGENT, FULL, MODEL
from runtally.store.selection import Selection
from runtally.store.tag_raw import aggregate_by_tag
from runtally.store.tagged import aggregate_tagged
from runtally.tags import project_tag
from runtally.tally import Tally

from . import kit
from .test_aggregate_intervals import comparable

pytestmark = pytest.mark.integration

START = datetime(2026, 6, 1, 10, tzinfo=UTC)
# JSON values that are not strings too: both sides take a value's text (``#>>``/``->>``).
VALUES = ["prod", "staging", "__other__", None, 3, True, {"a": 1}]


async def seed(conn: Any) -> None:
    runs = kit.make_runs(3_000, START, 3, seed=9)
    await kit.insert_runs(conn, runs)
    rng = random.Random(3)
    tags = [{"env": rng.choice(VALUES), "other": "x"} if rng.random() < 0.8 else {"other": "y"}
            for _ in runs]  # fmt: skip
    await conn.execute(
        "UPDATE agent_runs a SET tags = v.t::jsonb "
        "FROM unnest($1::uuid[], $2::text[]) AS v(id, t) WHERE a.event_id = v.id",
        [r.event_id for r in runs], [json.dumps(t) for t in tags],
    )  # fmt: skip


async def rollup_statement(conn: Any, selection: Selection, dims: int,
                           bucket: str | None) -> dict[Any, Tally]:  # fmt: skip
    out: dict[Any, Tally] = {}
    found = await aggregate_tagged(conn, selection, ["env"], 2**31 - 1, bucket)
    for key, tally in sorted(found.items(), key=lambda item: item[0].order()):
        coarse = project_tag(key, dims)
        if coarse in out:
            out[coarse].merge(tally)
        else:
            out[coarse] = tally
    return out


@pytest.mark.parametrize(("dims", "bucket"), [(0, "hour"), (AGENT | MODEL, None), (FULL, "q15")])
async def test_one_pass_equals_the_rollup_statement(pool: Any, dims: int,
                                                    bucket: str | None) -> None:  # fmt: skip
    async with pool.acquire() as conn:
        await seed(conn)
        selection = Selection(kit.PROJECT, START + timedelta(minutes=7), START + timedelta(hours=3))
        expected = await rollup_statement(conn, selection, dims, bucket)
        found = dict(await aggregate_by_tag(conn, selection, "env", dims, bucket))
    assert {k.value for k in found} == {"prod", "staging", "__other__", "3", "true", '{"a": 1}'}
    assert comparable(found) == comparable(expected)


async def test_a_key_listed_twice_is_counted_once(pool: Any) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
        selection = Selection(kit.PROJECT, START, START + timedelta(hours=3))
        once = await aggregate_tagged(conn, selection, ["env"], 2**31 - 1, "hour")
        twice = await aggregate_tagged(conn, selection, ["env", "env"], 2**31 - 1, "hour")
    assert sum(t.runs for t in once.values()) > 0
    assert comparable(twice) == comparable(once)
