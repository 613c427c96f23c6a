"""The merged top ids ranked in Postgres (``store.top_rank``) against ground truth: every
row, figure, error, flag and bound equal to ``topk.rank`` over the same top-K buckets and
the raw runs (every id listed, sums from the runs in Python), and every true per-id cost
within the bounds it gives. Folded and unfolded buckets, no raw intervals, no rolled
buckets, a limit beyond the ids; runs outside the raw intervals never count."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from runtally.rollup.top_rows import replace_top_rows
from runtally.store.partitions import ensure_partitions
from runtally.store.top_rank import ranked_top
from runtally.topk import BucketTop, Item, merge_top, rank, select
from tests.integration.rollup import kit

pytestmark = pytest.mark.integration

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
START = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = [START + n * DAY for n in range(3)]
HOURS = [START + 3 * DAY + n * HOUR for n in range(5)]
LATE = START + 3 * DAY
RAW = [(LATE + 5 * HOUR + timedelta(minutes=7), LATE + 6 * HOUR),
       (LATE + 8 * HOUR, LATE + 9 * HOUR + timedelta(minutes=40))]  # fmt: skip
IDS = 60  # ids shared by the rolled buckets and the raw runs


def random_items(rng: random.Random) -> dict[str, Item]:
    """Exact per-id figures of one bucket (some ids absent, some costs tied)."""
    out = {}
    for n in rng.sample(range(IDS), rng.randrange(5, IDS)):
        runs = rng.randrange(1, 9)
        out[f"u{n}"] = Item(
            runs=runs, successes=rng.randrange(runs + 1), duration_sum=rng.random() * 1e4,
            input_tokens=rng.randrange(10**6), output_tokens=rng.randrange(10**5),
            cache_read_tokens=rng.randrange(10**5), cache_write_tokens=rng.randrange(10**4),
            cost=Decimal(rng.choice([rng.randrange(10**9), 5 * 10**8])) / 10**9,
        )  # fmt: skip
    return out


def add_truth(truth: dict[str, Item], items: dict[str, Item]) -> None:
    for key, figures in items.items():
        truth[key].add(figures)


def raw_items(runs: list[kit.Run]) -> dict[str, Item]:
    """Per-user sums of the runs inside the raw intervals (users only)."""
    out: dict[str, Item] = defaultdict(Item)
    for r in runs:
        if r.user_id is None or not any(a <= r.started_at < b for a, b in RAW):
            continue
        out[r.user_id].add(Item(
            runs=1, successes=int(r.error_type is None), duration_sum=r.duration_ms,
            input_tokens=r.input_tokens or 0, output_tokens=r.output_tokens or 0,
            cache_read_tokens=r.cache_read_tokens or 0,
            cache_write_tokens=r.cache_write_tokens or 0, cost=r.cost_usd or Decimal(0),
        ))  # fmt: skip
    return dict(out)


def raw_user(user_id: str | None, outsiders: bool) -> str | None:
    """A raw run's user: one of the ``IDS`` the rolled buckets share, or (``outsiders``,
    every other user) an id listed in no rolled bucket."""
    if user_id is None:
        return None
    n = int(user_id[1:])
    return f"r{n}" if outsiders and n % 2 else f"u{n % IDS}"


async def store(conn: Any, seed: int, k: int, rolled: bool, raw: bool,
                outsiders: bool = False) -> tuple[list[BucketTop], dict[str, Item]]:  # fmt: skip
    """Write top-K rows (days merged from three hour-like parts, hours) and raw runs;
    the buckets ``topk.rank`` merges and every id's exact figures."""
    rng = random.Random(seed)
    buckets, truth = [], defaultdict(Item)
    for table, starts in (("rollup_top_daily", DAYS), ("rollup_top_hourly", HOURS)):
        for start in starts if rolled else []:
            parts = [random_items(rng) for _ in range(3 if table.endswith("daily") else 1)]
            for part in parts:
                add_truth(truth, part)
            top = merge_top([select(p, k) for p in parts], k)
            users = {"user": top, "session": select(random_items(rng), k)}
            await replace_top_rows(conn, table, kit.PROJECT, (start, start + HOUR), users)
            buckets.append(top)
    if raw:
        runs = kit.make_runs(600, START + 3 * DAY + 4 * HOUR, 7, seed)
        runs = [replace(r, user_id=raw_user(r.user_id, outsiders)) for r in runs]
        await ensure_partitions(conn, START.date(), (START + 4 * DAY).date())
        await kit.insert_runs(conn, runs)
        items = raw_items(runs)
        add_truth(truth, items)
        buckets.append(select(items, len(items)))
    return buckets, dict(truth)


FIGURES = ("runs", "successes", "input_tokens", "output_tokens", "cache_read_tokens",
           "cache_write_tokens", "cost", "cost_error", "runs_error")  # fmt: skip


@pytest.mark.parametrize(
    ("seed", "k", "limit", "rolled", "raw", "outsiders"),
    [
        (1, 100, 10, True, True, False),  # nothing folded: exact
        (2, 4, 10, True, True, False),  # folded remainders, raw ids listed exactly
        (3, 2, 5, True, False, False),  # no raw interval
        (4, 3, 8, False, True, False),  # raw only: exact
        (5, 3, 200, True, True, False),  # the limit asks for more rows than there are ids
        (6, 1, 1, True, True, False),
        # Raw ids no rolled bucket lists: the statement keeps only the raw top ``limit``
        # of them and must still rank and bound as if it listed them all.
        (7, 3, 5, True, True, True),
        (8, 100, 5, True, True, True),  # ... with nothing folded (no bound to add)
        (9, 2, 1, True, True, True),
        (10, 3, 8, False, True, True),
    ],
)
async def test_ranked_in_postgres_equals_topk_rank_and_bounds_the_truth(
    pool: Any, seed: int, k: int, limit: int, rolled: bool, raw: bool, outsiders: bool
) -> None:
    async with pool.acquire() as conn:
        buckets, truth = await store(conn, seed, k, rolled, raw, outsiders)
        rolled_at = (DAYS, HOURS) if rolled else ([], [])
        got = await ranked_top(conn, kit.PROJECT, "user", rolled_at, RAW if raw else [], limit)
    want = rank(buckets, limit)
    assert [key for key, _ in got.rows] == [key for key, _ in want.rows]
    for (key, mine), (_, theirs) in zip(got.rows, want.rows, strict=True):
        assert [getattr(mine, f) for f in FIGURES] == [getattr(theirs, f) for f in FIGURES], key
        assert mine.duration_sum == pytest.approx(theirs.duration_sum, rel=1e-12)
    assert (got.approximate, got.error_bound_cost, got.error_bound_runs) == (
        want.approximate, want.error_bound_cost, want.error_bound_runs)  # fmt: skip
    exact = sorted(truth, key=lambda key: truth[key].rank(key))
    for key, figures in got.rows:
        assert figures.cost <= truth[key].cost <= figures.cost + figures.cost_error
        assert truth[key].cost - figures.cost <= got.error_bound_cost
    if not got.approximate:
        assert [key for key, _ in got.rows] == exact[:limit]
    if k >= IDS or not rolled:  # nothing folded anywhere: the ranking is exact
        assert not got.approximate
