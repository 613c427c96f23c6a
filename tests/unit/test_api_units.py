"""Pure parts of the read API: key format and hashing, cursors, range rules, metrics."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtally.api.buckets import TooManyBuckets, bucket_of, by_bucket, series_buckets
from runtally.api.cursor import BadCursor, decode_cursor, encode_cursor
from runtally.api.errors import ApiError
from runtally.api.keys import PREFIX_LEN, generate_key, hash_key, well_formed
from runtally.api.metrics import GroupStats, PipelineStats, render
from runtally.api.params import resolve_range
from runtally.config import Settings
from runtally.cube import GroupKey

NOW = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def test_keys_have_the_documented_shape_and_are_stored_as_sha256() -> None:
    key = generate_key()
    assert key.startswith("rt_")
    assert len(key) == 3 + 43
    assert well_formed(key)
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key[:PREFIX_LEN] != key
    assert generate_key() != key


@pytest.mark.parametrize(
    "candidate", ["", "rt_", "rt_short", "xx_" + "a" * 43, "rt_" + "a" * 42, "rt_" + "a" * 42 + "!"]
)
def test_malformed_keys(candidate: str) -> None:
    assert not well_formed(candidate)


def test_cursor_round_trip() -> None:
    started = datetime(2026, 5, 1, 1, 2, 3, 456789, tzinfo=UTC)
    event_id = uuid.uuid4()
    cursor = encode_cursor(started, event_id)
    assert "=" not in cursor
    assert decode_cursor(cursor) == (started, event_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "e30",  # {}
        "eyJ0IjoiMjAyNi0wNS0wMVQwMTowMjowMyIsImlkIjoiYSJ9",  # bad uuid
        encode_cursor(datetime(2026, 5, 1), uuid.uuid4()),  # naive time
        "w6k",  # not UTF-8 JSON
    ],
)
def test_bad_cursors(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (NOW - timedelta(hours=24), NOW)),
        (NOW - timedelta(hours=2), None, (NOW - timedelta(hours=2), NOW)),
        (None, NOW - timedelta(hours=1), (NOW - timedelta(hours=25), NOW - timedelta(hours=1))),
        (NOW - timedelta(days=400), NOW, (NOW - timedelta(days=400), NOW)),
    ],
)
def test_range_defaults(
    start: datetime | None, end: datetime | None, expected: tuple[datetime, datetime]
) -> None:
    assert resolve_range(start, end, Settings(), NOW) == expected


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (NOW, NOW, "before"),
        (NOW + timedelta(hours=1), None, "before"),
        (NOW - timedelta(days=400, seconds=1), NOW, "400 days"),
    ],
)
def test_range_errors(start: datetime, end: datetime | None, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        resolve_range(start, end, Settings(), NOW)
    assert caught.value.status == 422
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("start", "end", "granularity", "zone", "count"),
    [
        (NOW, NOW + timedelta(hours=1), "hour", "UTC", 2),  # 12:30-13:30 touches two hours
        (NOW.replace(minute=0), NOW.replace(minute=0) + timedelta(hours=1), "hour", "UTC", 1),
        (NOW, NOW + timedelta(hours=1), "hour", "Asia/Kolkata", 1),  # local 18:00-19:00
        (NOW, NOW + timedelta(days=1), "day", "UTC", 2),
        (NOW, NOW + timedelta(minutes=1), "day", "UTC", 1),
        (NOW, NOW + timedelta(days=10), "day", "America/New_York", 11),
    ],
)
def test_series_buckets(
    start: datetime, end: datetime, granularity: str, zone: str, count: int
) -> None:
    buckets = series_buckets(start, end, granularity, ZoneInfo(zone), 100)
    assert len(buckets) == count
    assert buckets[0] <= start
    assert buckets[-1] < end
    find = bucket_of(buckets)
    for moment in (start, end - timedelta(microseconds=1), *buckets[1:]):
        found = find(GroupKey(moment, "", "", "", 0))
        assert found <= moment
        assert moment - found < timedelta(days=1)


_H = [NOW.replace(minute=0) + timedelta(hours=i) for i in range(3)]


@pytest.mark.parametrize(
    ("found", "keyed"),
    [
        ([], {}),
        ([(_H[0], "a"), (_H[2], "c")], {_H[0]: "a", _H[2]: "c"}),
        ([(_H[1] + timedelta(minutes=45), "q")], {_H[1]: "q"}),  # a quarter-hour row
        ([(_H[2] + timedelta(days=3), "late")], {_H[2]: "late"}),  # the last bucket is open
    ],
)
def test_by_bucket_keys_by_the_bucket_holding_each_moment(
    found: list[tuple[datetime, str]], keyed: dict[datetime, str]
) -> None:
    assert by_bucket(_H, found) == keyed


def test_by_bucket_refuses_two_values_in_one_bucket() -> None:
    with pytest.raises(ValueError, match="two values in the bucket starting at"):
        by_bucket(_H, [(_H[1], "a"), (_H[1] + timedelta(minutes=15), "b")])


@pytest.mark.parametrize(
    ("days", "granularity", "limit"), [(3, "hour", 72), (3, "hour", 10), (4000, "day", 400)]
)
def test_too_many_buckets_are_refused(days: int, granularity: str, limit: int) -> None:
    with pytest.raises(TooManyBuckets, match=f"more than {limit} {granularity} buckets"):
        series_buckets(NOW, NOW + timedelta(days=days), granularity, ZoneInfo("UTC"), limit)


def _samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_metrics_render_every_figure() -> None:
    stats = PipelineStats(
        redis_up=True,
        postgres_up=True,
        ingested=1234,
        dead=5,
        stream_length=40,
        dead_stream_length=5,
        groups=[GroupStats("runtally-ingest", consumers=2, pending=7, lag=33)],
        dirty_hours=3,
        oldest_dirty_age_s=12.5,
    )
    samples = _samples(render(stats))
    assert samples[("runtally_events_ingested_total", ())] == 1234
    assert samples[("runtally_events_dead_total", ())] == 5
    assert samples[("runtally_stream_length", ())] == 40
    assert samples[("runtally_dead_stream_length", ())] == 5
    assert samples[("runtally_dirty_hours", ())] == 3
    assert samples[("runtally_oldest_dirty_hour_age_seconds", ())] == 12.5
    group = (("group", "runtally-ingest"),)
    assert samples[("runtally_consumer_group_lag", group)] == 33
    assert samples[("runtally_consumer_group_pending", group)] == 7
    assert samples[("runtally_consumer_group_consumers", group)] == 2
    assert samples[("runtally_backend_up", (("backend", "redis"),))] == 1


def test_metrics_when_backends_are_down() -> None:
    samples = _samples(render(PipelineStats()))
    assert samples == {
        ("runtally_backend_up", (("backend", "redis"),)): 0,
        ("runtally_backend_up", (("backend", "postgres"),)): 0,
    }
