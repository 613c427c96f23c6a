"""The 30-day questions of the read benchmark, each asked three ways.

- runtally: one HTTP request to the read API (``path`` + ``params``);
- the ClickHouse peer: one SQL scan of the raw rows (``ch_key``: the GROUP BY expression),
  with approximate quantiles (``quantiles``) and ``uniq``, as Langfuse and Helicone do;
- the raw truth: one exact Postgres aggregation (``pg_key``), for the exactness checks.

Every answer becomes ``{key: row}`` with string keys, so the three can be compared: UTC
hours as ``YYYY-MM-DDTHH``, local days as ``YYYY-MM-DD``, agents/models/tag values as is,
the summary as ``"all"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench.harness import Target

TAG_KEY = "environment"  # rolled up by default (no RUNTALLY_ROLLUP_TAGS needed)
ZONES = ("America/New_York", "Asia/Kolkata")
ALL = "all"


def hour_key(value: Any) -> str:
    """A UTC hour from Postgres (aware datetime), ClickHouse (text) or the API (ISO text)."""
    if isinstance(value, str):
        if "T" not in value:  # ClickHouse: "2026-11-01 05:00:00"
            return value[:13].replace(" ", "T")
        value = datetime.fromisoformat(value)
    return str(value.astimezone(UTC).strftime("%Y-%m-%dT%H"))


def day_key(zone: str) -> Callable[[Any], str]:
    """A local day of ``zone``: a date (Postgres), text (ClickHouse) or an API bucket."""

    def key(value: Any) -> str:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and "T" not in value:
            return value[:10]
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(ZoneInfo(zone)).date().isoformat()

    return key


def plain_key(value: Any) -> str:
    return str(value)


@dataclass(frozen=True)
class Question:
    """One question: how each side asks it, and how its answers are keyed."""

    label: str
    path: str
    params: dict[str, str]
    pg_key: str  # SQL over agent_runs
    ch_key: str | None  # SQL over the ClickHouse table; None: no GROUP BY
    key: Callable[[Any], str] = plain_key
    distinct: bool = False  # unique users and sessions (the summary)
    feature: str = ""  # parameter that may be missing from this build (probed first)
    targets: dict[int, float] = field(default_factory=dict)  # min events -> ratio wanted

    def target(self, events: int) -> Target | None:
        """The issue's ratio target for this size (none below 1M events)."""
        wanted = [t for size, t in sorted(self.targets.items()) if events >= size]
        return Target(wanted[-1]) if wanted else None


M = 1_000_000
SMALL = {M: 3.0}  # every question at least 3x ahead at 1M-3M (and up to 10M)


def _daily(zone: str, feature: str) -> Question:
    return Question(
        f"daily series {zone}",
        "/v1/timeseries",
        {"granularity": "day", **({"tz": zone} if feature else {})},
        f"(started_at AT TIME ZONE '{zone}')::date",
        f"toDate(started_at, '{zone}')",
        key=day_key(zone),
        feature=feature,
        targets={**SMALL, 10 * M: 10.0} if feature else {},
    )


def _breakdown(by: str, pg_key: str, ch_key: str, feature: str = "") -> Question:
    return Question(
        f"breakdown by {by}",
        "/v1/breakdown",
        {"by": by},
        pg_key,
        ch_key,
        feature=feature,
        targets={**SMALL, 10 * M: 10.0},
    )


QUESTIONS = (
    Question(
        "summary",
        "/v1/summary",
        {},
        f"'{ALL}'::text",
        None,
        distinct=True,
        targets={**SMALL, 10 * M: 20.0, 50 * M: 100.0},
    ),
    Question(
        "hourly series",
        "/v1/timeseries",
        {"granularity": "hour"},
        "date_trunc('hour', started_at, 'UTC')",
        "toStartOfHour(started_at)",
        key=hour_key,
        targets={**SMALL, 10 * M: 5.0, 50 * M: 20.0},
    ),
    _breakdown("agent", "agent", "agent"),
    _breakdown("model", "model", "model"),
    _breakdown(
        f"tag:{TAG_KEY}", f"tags->>'{TAG_KEY}'", f"tags['{TAG_KEY}']", feature="tag breakdown"
    ),
    _daily("UTC", ""),
    *(_daily(zone, "tz") for zone in ZONES),
)

# runtally p95 targets in ms: the summary's at 10M and 50M (cost independent of volume,
# issue 17), the tag breakdown's over 30 days (issue 14).
P95_TARGETS_MS = {"summary": 30.0, f"breakdown by tag:{TAG_KEY}": 100.0}


@dataclass(frozen=True)
class ApiOnly:
    """A request timed on runtally alone (no peer question, no exactness check)."""

    label: str
    path: str
    params: dict[str, str]
    p95_ms: float


# Top users by cost (issue 14: p95 < 100 ms over 30 days; top-K rows where rolled up).
API_ONLY = (ApiOnly("top 20 users by cost", "/v1/breakdown", {"by": "user", "limit": "20"}, 100.0),)


def api_rows(question: Question, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API answer as ``{key: row}`` (empty time buckets left out)."""
    if "points" in body:
        return {question.key(p["bucket"]): p for p in body["points"] if p["runs"]}
    if "rows" in body:
        return {str(r["key"]): r for r in body["rows"]}
    return {ALL: body}


def local_buckets(question: Question, body: dict[str, Any]) -> bool:
    """Whether a daily answer's buckets are local midnights of the asked zone (a build
    without ``tz`` ignores the parameter and answers UTC days)."""
    zone = question.params.get("tz")
    if zone is None or not body.get("points"):
        return True
    first = datetime.fromisoformat(body["points"][-1]["bucket"])
    local = first.astimezone(ZoneInfo(zone))
    return (local.hour, local.minute) == (0, 0)
