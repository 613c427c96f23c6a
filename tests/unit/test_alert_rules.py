"""Alert rule validation by tables: windows, thresholds, groupings, URLs."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from runtally.alerts.rules import RuleSpec, format_duration, parse_duration

BASE: dict[str, Any] = {
    "name": "cost spike",
    "measure": "cost_usd",
    "op": ">",
    "threshold": 10,
    "window": "1h",
    "webhook_url": "https://example.com/hook",
}


@pytest.mark.parametrize(
    ("text", "span"),
    [("90s", timedelta(seconds=90)), ("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
     ("30d", timedelta(days=30)), (" 2h ", timedelta(hours=2))],
)  # fmt: skip
def test_parse_duration(text: str, span: timedelta) -> None:
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["", "1", "h", "0m", "-5m", "1.5h", "5 m", "1w", "01h", "1H"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("span", "text"),
    [(timedelta(seconds=90), "90s"), (timedelta(minutes=120), "2h"), (timedelta(days=7), "7d"),
     (timedelta(minutes=5), "5m")],
)  # fmt: skip
def test_format_duration(span: timedelta, text: str) -> None:
    assert format_duration(span) == text
    assert parse_duration(text) == span


def test_a_valid_rule_is_normalised() -> None:
    spec = RuleSpec.model_validate({**BASE, "window": "60m", "repeat_after": "240m"})
    assert (spec.window, spec.repeat_after) == ("1h", "4h")
    assert spec.window_span == timedelta(hours=1)
    assert (spec.min_runs, spec.top_n, spec.group_by, spec.enabled) == (0, 10, None, True)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"window": "4m"}, "window must be between 5m and 30d"),
        ({"window": "31d"}, "window must be between 5m and 30d"),
        ({"window": "soon"}, "not a duration"),
        ({"measure": "latency"}, "measure"),
        ({"op": "=="}, "op"),
        ({"threshold": -1}, "greater than or equal to 0"),
        ({"threshold": "NaN"}, "finite"),
        ({"measure": "error_rate", "threshold": 5}, "error_rate is a fraction"),
        ({"warn_threshold": 20}, "warn_threshold must be reached before threshold"),
        ({"warn_threshold": 10}, "warn_threshold must be reached before threshold"),
        ({"op": "<", "warn_threshold": 5}, "warn_threshold must be reached before threshold"),
        ({"group_by": "error_type"}, "group_by must be one of agent, model, user"),
        ({"group_by": "tag:team"}, "tags"),
        ({"webhook_url": "ftp://example.com/x"}, "URL scheme"),
        ({"webhook_url": "not a url"}, "URL"),
        ({"min_runs": -1}, "min_runs"),
        ({"top_n": 0}, "top_n"),
        ({"top_n": 101}, "top_n"),
        ({"name": ""}, "name"),
        ({"repeat_after": "10s"}, "repeat_after must be between"),
        ({"filters": {"tag": "x"}}, "Extra inputs"),
        ({"filters": {"agent": ""}}, "agent"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_invalid_rules_say_why(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        RuleSpec.model_validate({**BASE, **change})
    assert reason in str(info.value)


@pytest.mark.parametrize(
    "change",
    [
        {"op": "<", "warn_threshold": 20},
        {"op": ">=", "warn_threshold": 5},
        {"measure": "error_rate", "threshold": 0.2, "warn_threshold": 0.1},
        {"group_by": "user", "top_n": 100, "filters": {"agent": "a", "model": "m"}},
        {"webhook_url": "http://127.0.0.1:9000/x"},
    ],
)
def test_valid_variants(change: dict[str, Any]) -> None:
    RuleSpec.model_validate({**BASE, **change})


def test_the_readme_example_is_a_valid_rule(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    match = re.search(r"/v1/alerts -d '(\{.*?\})'", readme, re.S)
    assert match is not None
    spec = RuleSpec.model_validate(json.loads(match[1]))
    assert (spec.group_by, spec.repeat_after) == ("user", "4h")
