"""Pure parts of a series answer: Postgres-rendered points spliced in bucket order, the
answer buckets a summed read needs, and the cuts of buckets the route already has."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic_core import to_json

from runtally import localtime
from runtally.api.gather import cuts
from runtally.api.premerged import holding
from runtally.api.routes.aggregates import _points, _points_json
from runtally.api.views import tally_fields
from runtally.store.selection import Selection
from runtally.tally import Tally

from .test_tally import random_tally

START = datetime(2026, 3, 7, 3, 17, tzinfo=UTC)


def _shown(tally: Tally) -> bytes:
    """A tally's point fields as JSON bytes, as ``rollups._show`` receives them."""
    fields = tally_fields(tally)
    del fields["success_rate"]
    return to_json(fields)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_points_json_keeps_bucket_order_labels_and_every_value(tz: str) -> None:
    rng = random.Random(tz)
    zone = ZoneInfo(tz)
    buckets = localtime.bucket_starts(START, START + timedelta(hours=30), "hour", zone)
    tallies = {b: random_tally(rng) for b in buckets if rng.random() < 0.5}
    rest = [b for b in buckets if b not in tallies]
    kept = {b: random_tally(rng) for b in rest if rng.random() < 0.7}  # others: zeros
    shown = {b: _shown(t) for b, t in kept.items()}
    answer = json.loads(_points_json(buckets, tallies, zone, shown))
    # Ground truth: every bucket's point made the dict way, from its own tally.
    expected = json.loads(to_json(_points(buckets, {**tallies, **kept}, zone)))
    assert answer == expected
    labels = json.loads(to_json([b.astimezone(zone) for b in buckets]))
    assert [p["bucket"] for p in answer] == labels
    assert any(p["runs"] == 0 for p in answer)  # zero-filled, shown and tallied all met
    assert len(shown) > 5


def test_points_json_refuses_a_bucket_both_shown_and_tallied() -> None:
    rng = random.Random(3)
    buckets = [START + timedelta(hours=i) for i in range(3)]
    tally = random_tally(rng)
    with pytest.raises(RuntimeError, match="both"):
        _points_json(buckets, {buckets[1]: tally}, ZoneInfo("UTC"), {buckets[1]: _shown(tally)})


@pytest.mark.parametrize("seed", range(20))
def test_holding_finds_the_answer_bucket_of_every_row(seed: int) -> None:
    rng = random.Random(seed)
    answer = sorted({START + timedelta(minutes=rng.randrange(10_000)) for _ in range(40)})
    rows = [answer[0] + timedelta(minutes=rng.randrange(12_000)) for _ in range(rng.randrange(9))]
    expected = sorted({max(a for a in answer if a <= row) for row in rows})  # brute force
    assert holding(answer, rows) == expected


def test_holding_refuses_a_row_before_the_first_answer_bucket() -> None:
    with pytest.raises(ValueError, match="before the first"):
        holding([START, START + timedelta(hours=1)], [START - timedelta(seconds=1)])


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
@pytest.mark.parametrize("granularity", ["hour", "day"])
def test_cuts_from_the_routes_starts_are_the_cuts_worked_out(tz: str, granularity: str) -> None:
    zone = ZoneInfo(tz)
    # Across both DST changes of the northern and the southern hemisphere in 2026.
    for start, days in [(datetime(2026, 3, 6, 5, 41, tzinfo=UTC), 40),
                        (datetime(2026, 10, 1, 0, 0, tzinfo=UTC), 40)]:  # fmt: skip
        selection = Selection("p", start, start + timedelta(days=days, minutes=13))
        starts = localtime.bucket_starts(selection.start, selection.end, granularity, zone)
        assert cuts(selection, granularity, zone, starts) == cuts(selection, granularity, zone)
        assert cuts(selection, None, zone, starts) == [selection.start, selection.end]
