"""Pure parts of the rollup area: cron sets, lock keys, day merging, cut-offs, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from arq.cron import CronJob

from runtally.config import Settings
from runtally.cube import GroupKey
from runtally.rollup.daily import merge_day
from runtally.rollup.maintenance import dead_letter_min_id, retention_cutoff
from runtally.rollup.rows import day_start, lock_key
from runtally.rollup.scheduler import cron_fields, worker_settings
from runtally.rollup.stats import Outcome, RollStats
from runtally.sketch import LatencySketch
from runtally.tally import Tally


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (1, {"second": set(range(60))}),
        (30, {"second": {0, 30}}),
        (7, {"second": {0, 7, 14, 21, 28, 35, 42, 49, 56}}),
        (59, {"second": {0, 59}}),
        (60, {"minute": set(range(60)), "second": {0}}),
        (300, {"minute": set(range(0, 60, 5)), "second": {0}}),
        (3600, {"minute": {0}, "second": {0}}),
    ],
)
def test_cron_fields(interval: int, expected: dict[str, set[int]]) -> None:
    assert cron_fields(interval) == expected


def test_cron_fields_refuse_zero() -> None:
    with pytest.raises(ValueError):
        cron_fields(0)


def test_lock_keys_are_stable_signed_64_bit_and_distinct() -> None:
    hour = datetime(2026, 11, 24, 10, tzinfo=UTC)
    same_instant = hour.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert lock_key("hour", "p", hour) == lock_key("hour", "p", same_instant)
    keys = {
        lock_key(kind, project, hour + timedelta(hours=h))
        for kind in ("hour", "day")
        for project in ("p", "q")
        for h in range(48)
    }
    assert len(keys) == 2 * 2 * 48
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_day_start_is_utc_midnight() -> None:
    tz = timezone(timedelta(hours=-8))
    assert day_start(datetime(2026, 11, 24, 20, tzinfo=tz)) == datetime(2026, 11, 25, tzinfo=UTC)


def test_merge_day_merges_hours_per_key() -> None:
    day = datetime(2026, 11, 24, tzinfo=UTC)

    def tally(runs: int, duration: float) -> Tally:
        return Tally(runs=runs, successes=runs, duration_sum=runs * duration,
                     duration_min=duration, duration_max=duration,
                     latency=LatencySketch.from_values([duration] * runs))  # fmt: skip

    hourly = {
        GroupKey(day + timedelta(hours=1), "a", "m", ""): tally(2, 10.0),
        GroupKey(day + timedelta(hours=5), "a", "m", ""): tally(3, 20.0),
        GroupKey(day + timedelta(hours=5), "a", "m", "timeout"): tally(1, 5.0),
    }
    merged = merge_day(day, hourly)
    assert set(merged) == {GroupKey(day, "a", "m", ""), GroupKey(day, "a", "m", "timeout")}
    ok = merged[GroupKey(day, "a", "m", "")]
    assert (ok.runs, ok.duration_sum, ok.duration_min, ok.duration_max) == (5, 80.0, 10.0, 20.0)
    assert ok.latency.count == 5


def test_cut_offs() -> None:
    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    assert retention_cutoff(now, 30) == datetime(2026, 10, 25, tzinfo=UTC)
    keep_from = now - timedelta(days=14)
    assert dead_letter_min_id(now, 14) == f"{int(keep_from.timestamp() * 1000)}-0"


def test_roll_stats_count_and_add() -> None:
    stats = RollStats()
    stats.count(Outcome.CLEARED, rows=4)
    stats.count(Outcome.SKIPPED)
    other = RollStats()
    other.count(Outcome.REDIRTIED, rows=2)
    stats.add(other)
    assert stats.as_dict() == {"found": 3, "cleared": 1, "redirtied": 1, "waiting": 0,
                               "skipped": 1, "rows": 6}  # fmt: skip
    assert stats.progressed
    assert not other.progressed


def test_worker_settings_follow_settings() -> None:
    settings = Settings(
        redis_url="redis://example:6380/3", arq_queue="q", rollup_interval_s=10,
        shutdown_grace_s=2.5,
    )  # fmt: skip
    cls = worker_settings(settings)
    assert cls.queue_name == "q"  # type: ignore[attr-defined]
    assert cls.job_completion_wait == 3  # type: ignore[attr-defined]  # whole seconds, not less
    redis = cls.redis_settings  # type: ignore[attr-defined]
    assert (redis.host, redis.port, redis.database) == ("example", 6380, 3)
    jobs = {job.name: job for job in cls.cron_jobs}  # type: ignore[attr-defined]
    assert set(jobs) == {
        "runtally:roll-hours", "runtally:roll-days", "runtally:partitions", "runtally:retention",
        "runtally:alerts",
    }  # fmt: skip
    assert all(isinstance(job, CronJob) and job.unique for job in jobs.values())
    assert jobs["runtally:roll-hours"].second == {0, 10, 20, 30, 40, 50}
    assert jobs["runtally:partitions"].run_at_startup
    assert cls.ctx == {"settings": settings}  # type: ignore[attr-defined]
