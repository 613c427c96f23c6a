"""The read benchmark's pure parts: sizes, targets, answer keys, and the exactness check
that compares runtally's answers with the raw truth (the benchmark itself never runs in
tests: timing is not tested)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from copy import deepcopy
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench.questions import QUESTIONS, api_rows, day_key, hour_key, local_buckets
from bench.sizes import disk_refusal, parse_events
from bench.truth import QUANTILES, Truth, check, top_errors, uniq_errors

BY_LABEL = {q.label: q for q in QUESTIONS}


@pytest.mark.parametrize(
    ("text", "count"),
    [("300k", 300_000), ("1M", 1_000_000), ("2.5M", 2_500_000), ("50m", 50_000_000),
     ("10_000_000", 10_000_000), ("1,000", 1_000)],
)  # fmt: skip
def test_event_counts_are_read_with_their_unit(text: str, count: int) -> None:
    assert parse_events(text) == count


@pytest.mark.parametrize("text", ["10x", "", "M", "-1M", "999", "1e6"])
def test_bad_event_counts_are_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"event count|at least 1k"):
        parse_events(text)


def test_a_size_that_does_not_fit_the_free_disk_is_refused(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    reason = disk_refusal(tmp_path, free // 100, peer=True)  # > 100 bytes per event needed
    assert reason is not None
    assert "free disk" in reason
    assert "--events" in reason
    assert disk_refusal(tmp_path, 1_000, peer=True) is None


@pytest.mark.parametrize(
    ("label", "events", "wanted"),
    [("summary", 300_000, None), ("summary", 1_000_000, 3.0), ("summary", 3_000_000, 3.0),
     ("summary", 10_000_000, 20.0), ("summary", 50_000_000, 100.0),
     ("hourly series", 10_000_000, 5.0), ("hourly series", 50_000_000, 20.0),
     ("breakdown by model", 50_000_000, 10.0), ("breakdown by tag:environment", 1_000_000, 3.0),
     ("daily series Asia/Kolkata", 10_000_000, 10.0), ("daily series UTC", 10_000_000, None)],
)  # fmt: skip
def test_targets_follow_the_issue_by_size(label: str, events: int, wanted: float | None) -> None:
    target = BY_LABEL[label].target(events)
    assert (target.threshold if target else None) == wanted


def test_one_hour_has_one_key_from_postgres_clickhouse_and_the_api() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2026, 3, 8, 7, tzinfo=UTC)
    keys = {
        hour_key(moment),
        hour_key("2026-03-08 07:00:00.000000"),
        hour_key("2026-03-08T07:00:00Z"),
        hour_key(moment.astimezone(timezone(timedelta(hours=-5))).isoformat()),
    }
    assert keys == {"2026-03-08T07"}


def test_one_local_day_has_one_key_from_postgres_clickhouse_and_the_api() -> None:
    from datetime import date

    kolkata = day_key("Asia/Kolkata")
    # Local midnight of 8 March in Kolkata is 18:30 UTC on the 7th.
    assert kolkata("2026-03-08T00:00:00+05:30") == "2026-03-08"
    assert kolkata("2026-03-07T18:30:00Z") == "2026-03-08"
    assert kolkata("2026-03-08") == "2026-03-08"
    assert kolkata(date(2026, 3, 8)) == "2026-03-08"
    assert day_key("America/New_York")("2026-03-08T04:59:00Z") == "2026-03-07"


def _points(*buckets: str) -> dict[str, Any]:
    return {"points": [{"bucket": b, "runs": 1} for b in buckets]}


def test_a_build_that_ignores_tz_is_told_apart_from_one_that_honours_it() -> None:
    kolkata = BY_LABEL["daily series Asia/Kolkata"]
    assert not local_buckets(kolkata, _points("2026-03-07T00:00:00Z", "2026-03-08T00:00:00Z"))
    assert local_buckets(kolkata, _points("2026-03-07T18:30:00Z", "2026-03-08T00:00:00+05:30"))
    utc = BY_LABEL["daily series UTC"]
    assert local_buckets(utc, _points("2026-03-08T00:00:00Z"))


def test_api_rows_leave_out_empty_buckets_and_key_rows() -> None:
    hourly = BY_LABEL["hourly series"]
    body = {"points": [{"bucket": "2026-03-08T07:00:00Z", "runs": 2},
                       {"bucket": "2026-03-08T08:00:00Z", "runs": 0}]}  # fmt: skip
    assert list(api_rows(hourly, body)) == ["2026-03-08T07"]
    agent = BY_LABEL["breakdown by agent"]
    assert list(api_rows(agent, {"rows": [{"key": "a"}, {"key": "b"}]})) == ["a", "b"]
    assert list(api_rows(BY_LABEL["summary"], {"runs": 3})) == ["all"]


def _truth_and_answer(durations: np.ndarray) -> tuple[Truth, dict[str, Any]]:
    """A truth row computed with numpy, and the API row that equals it exactly."""
    lower = [float(np.quantile(durations, q, method="lower")) for _, q in QUANTILES]
    want = {
        "runs": len(durations), "successes": len(durations) - 3, "avg": float(durations.mean()),
        "min": float(durations.min()), "max": float(durations.max()), "quantiles": lower,
        "input": 700, "output": 80, "cache_read": 10, "cache_write": 0,
        "cost": "0.000123456789", "unpriced": 0, "users": 1000, "sessions": 5000,
    }  # fmt: skip
    got = {
        "runs": want["runs"], "successes": want["successes"], "cost_usd": 0.000123456789,
        "unpriced_runs": 0, "unique_users": 1010, "unique_sessions": 4950,
        "tokens": {"input": 700, "output": 80, "cache_read": 10, "cache_write": 0,
                   "total": 780},
        "latency_ms": {"avg": want["avg"], "min": want["min"], "max": want["max"],
                       **{name: v * 1.009 for (name, _), v in zip(QUANTILES, lower, strict=True)}},
    }  # fmt: skip
    return Truth({"all": want}, 0.0), got


DURATIONS = np.random.default_rng(3).lognormal(7.0, 0.8, 2_001)


def test_an_answer_equal_to_the_truth_passes_with_its_worst_percentile_error() -> None:
    want, got = _truth_and_answer(DURATIONS)
    errors, worst = check(want, {"all": got})
    assert errors == []
    assert worst == pytest.approx(0.009, rel=1e-6)
    assert uniq_errors(want, got) == []


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [(("runs",), 2_000, "runs"), (("cost_usd",), 0.00012345679, "cost_usd"),
     (("tokens", "cache_read"), 11, "tokens.cache_read"),
     (("latency_ms", "max"), float(DURATIONS.max()) * 0.999, "latency max"),
     (("unique_users",), 1_040, "unique_users")],
)  # fmt: skip
def test_any_difference_from_the_truth_is_named(
    path: tuple[str, ...], value: float, named: str
) -> None:
    want, got = _truth_and_answer(DURATIONS)
    changed = deepcopy(got)
    inner = changed
    for part in path[:-1]:
        inner = inner[part]
    inner[path[-1]] = value
    errors = check(want, {"all": changed})[0] + uniq_errors(want, changed)
    assert len(errors) == 1
    assert named in errors[0]


def test_a_percentile_off_by_more_than_one_percent_is_a_mismatch() -> None:
    want, got = _truth_and_answer(DURATIONS)
    got["latency_ms"]["p99"] = want.rows["all"]["quantiles"][-1] * 1.02
    errors, worst = check(want, {"all": got})
    assert [e.split(":")[0] for e in errors] == ["all p99"]
    assert worst == pytest.approx(0.02, rel=1e-6)


def test_missing_and_extra_keys_are_a_mismatch() -> None:
    want, got = _truth_and_answer(DURATIONS)
    errors, _ = check(want, {"other": got})
    assert errors == ["keys differ: missing ['all'], extra ['other']"]


def test_the_command_line_refuses_a_bad_size_and_a_size_the_disk_cannot_hold(
    repo_root: Path,
) -> None:
    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bench", *args]
        return subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)

    bad = bench("api", "--events", "10x")
    assert bad.returncode == 2
    assert "not an event count: '10x'" in bad.stderr
    huge = bench("api", "--events", "1000000M", "--quick")
    assert huge.returncode == 1
    assert "free disk" in huge.stderr
    assert "Traceback" not in huge.stderr + huge.stdout


def _client(status: int, body: dict[str, Any]) -> Any:
    import httpx

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return httpx.Client(base_url="http://bench", transport=httpx.MockTransport(answer))


def test_a_question_this_build_cannot_answer_is_named_with_the_api_s_reason() -> None:
    from bench.apiclient import _probe

    tag = BY_LABEL["breakdown by tag:environment"]
    refused = {"error": "invalid_request", "message": "by: Input should be 'agent'"}
    with _client(422, refused) as client:
        assert "answered 422" in _probe(client, tag, tag.params)
        assert "Input should be" in _probe(client, tag, tag.params)
    ny = BY_LABEL["daily series America/New_York"]
    with _client(200, _points("2026-03-07T00:00:00Z")) as client:
        assert "ignored tz=America/New_York" in _probe(client, ny, ny.params)
    with _client(200, _points("2026-03-07T05:00:00Z")) as client:  # NY midnight (EST)
        assert _probe(client, ny, ny.params) == ""


EXACT_USERS = {"u-1": (Decimal("3.5"), 4), "u-2": (Decimal("2.25"), 3), "u-3": (Decimal(1), 9)}


def top_body(rows: list[tuple[str, float, float | None, int]], approximate: bool) -> dict[str, Any]:
    return {
        "rows": [
            {"key": k, "cost_usd": lo, "cost_usd_max": hi, "runs": n} for k, lo, hi, n in rows
        ],
        "basis": {"source": "top_k", "approximate": approximate},
    }


@pytest.mark.parametrize(
    ("rows", "approximate", "needle"),
    [
        ([("u-1", 3.5, 3.5, 4), ("u-2", 2.25, 2.25, 3)], False, None),
        ([("u-1", 3.5, None, 4), ("u-2", 2.25, None, 3)], False, None),  # raw rows: no max
        ([("u-2", 2.0, 2.5, 2), ("u-1", 3.0, 3.75, 3)], True, None),  # order may differ
        ([("u-2", 2.0, 2.5, 2), ("u-1", 3.0, 3.75, 3)], False, "said exact"),
        ([("u-1", 3.6, 4.0, 4)], True, "outside"),  # a lower bound above the truth
        ([("u-3", 0.5, 0.9, 2)], True, "outside"),  # an upper bound below it
        ([("u-1", 3.5, 3.5, 5)], True, "runs > exact"),
        ([("u-9", 0.0, 0.0, 0)], True, None),  # an id with no runs: cost 0 within [0, 0]
    ],
)
def test_top_users_answers_are_checked_against_the_exact_sums(
    rows: list[tuple[str, float, float | None, int]], approximate: bool, needle: str | None
) -> None:
    errors = top_errors(EXACT_USERS, top_body(rows, approximate))
    if needle is None:
        assert errors == []
    else:
        assert any(needle in e for e in errors), errors
