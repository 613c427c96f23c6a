"""The raw truth in Postgres, and the exactness checks of runtally's answers against it.

For each question one exact aggregation over the raw rows of ``[start, end)``: counts,
token sums and cost (``numeric``) exact, and each latency percentile as the value at rank
``floor(q·(n−1))`` — the definition runtally's DDSketch approximates within 1% — read
with ``percentile_disc`` at the fraction ``(rank + 0.5) / n`` of each group's own ``n``.
runtally's answer must equal the counts, sums and cost exactly and be within 1% on each
percentile; distinct users/sessions are HyperLogLog estimates (checked within
``UNIQ_TOLERANCE``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bench.data import PROJECT
from bench.questions import Question

QUANTILES = (("p50", 0.5), ("p75", 0.75), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
QUANTILE_TOLERANCE = 0.01
UNIQ_TOLERANCE = 0.03  # documented ~1.5% error: allow two standard errors
TOKENS = (("input", "input_tokens"), ("output", "output_tokens"),
          ("cache_read", "cache_read_tokens"), ("cache_write", "cache_write_tokens"))  # fmt: skip

_RANKS = ", ".join(f"(floor({q} * (n.n - 1)) + 0.5) / n.n" for _, q in QUANTILES)
_SUMS = ", ".join(f"coalesce(sum({col}), 0) AS {name}" for name, col in TOKENS)
_RANGE = "project = $1 AND started_at >= $2 AND started_at < $3"
TRUTH_SQL = f"""
SELECT r.key, n.n AS runs, count(*) FILTER (WHERE status = 'success') AS successes,
       avg(duration_ms) AS avg, min(duration_ms) AS min, max(duration_ms) AS max,
       percentile_disc(ARRAY[{_RANKS}]) WITHIN GROUP (ORDER BY duration_ms) AS quantiles,
       {_SUMS}, coalesce(sum(cost_usd), 0) AS cost,
       count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced{{distinct}}
FROM (SELECT {{key}} AS key, * FROM agent_runs WHERE {_RANGE}) r
JOIN (SELECT {{key}} AS key, count(*) AS n FROM agent_runs WHERE {_RANGE} GROUP BY 1) n
  ON r.key = n.key
GROUP BY r.key, n.n
"""
DISTINCT = ", count(DISTINCT user_id) AS users, count(DISTINCT session_id) AS sessions"


@dataclass(frozen=True)
class Truth:
    """One question's exact answer, ``{key: row}``, and how long Postgres took."""

    rows: dict[str, dict[str, Any]]
    seconds: float


async def truth(conn: Any, question: Question, start: datetime, end: datetime) -> Truth:
    """The exact answer of ``question`` over the raw rows (rows without a key left out)."""
    sql = TRUTH_SQL.format(key=question.pg_key, distinct=DISTINCT if question.distinct else "")
    began = time.perf_counter()
    records = await conn.fetch(sql, PROJECT, start, end)
    seconds = time.perf_counter() - began
    return Truth({question.key(r["key"]): dict(r) for r in records}, seconds)


def _close(a: float | None, b: float | None, rel: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= rel * max(abs(a), abs(b))


def _row_errors(key: str, want: dict[str, Any], got: dict[str, Any]) -> tuple[list[str], float]:
    """Mismatches of one row, and its largest relative percentile error."""
    errors = []
    exact = {
        "runs": (want["runs"], got["runs"]),
        "successes": (want["successes"], got["successes"]),
        "cost_usd": (float(Decimal(want["cost"])), got["cost_usd"]),
        **{f"tokens.{name}": (want[name], got["tokens"][name]) for name, _ in TOKENS},
    }
    if "unpriced_runs" in got:
        exact["unpriced_runs"] = (want["unpriced"], got["unpriced_runs"])
    errors += [f"{key} {name}: {g!r} ≠ {w!r}" for name, (w, g) in exact.items() if w != g]
    latency = got["latency_ms"]
    for name in ("avg", "min", "max"):
        if not _close(want[name], latency[name], 1e-9):
            errors.append(f"{key} latency {name}: {latency[name]!r} ≠ {want[name]!r}")
    worst = 0.0
    for (name, _), exact_q in zip(QUANTILES, want["quantiles"], strict=True):
        worst = max(worst, abs(latency[name] - exact_q) / exact_q if exact_q else 0.0)
        if not _close(exact_q, latency[name], QUANTILE_TOLERANCE):
            errors.append(f"{key} {name}: {latency[name]:.3f} vs exact {exact_q:.3f}")
    return errors, worst


def check(want: Truth, got: dict[str, dict[str, Any]]) -> tuple[list[str], float]:
    """runtally's ``{key: row}`` against the truth: mismatches, largest percentile error."""
    errors: list[str] = []
    missing, extra = set(want.rows) - set(got), set(got) - set(want.rows)
    if missing or extra:
        errors.append(f"keys differ: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}")
    worst = 0.0
    for key in sorted(set(want.rows) & set(got)):
        row_errors, row_worst = _row_errors(key, want.rows[key], got[key])
        errors += row_errors
        worst = max(worst, row_worst)
    return errors, worst


def uniq_errors(want: Truth, summary: dict[str, Any]) -> list[str]:
    """The summary's distinct users and sessions within ``UNIQ_TOLERANCE`` of the truth."""
    row = next(iter(want.rows.values()))
    out = []
    for name, field in (("users", "unique_users"), ("sessions", "unique_sessions")):
        if not _close(row[name], summary[field], UNIQ_TOLERANCE):
            out.append(f"{field}: {summary[field]} vs exact {row[name]}")
    return out


TOP_SQL = f"""
SELECT user_id AS key, coalesce(sum(cost_usd), 0) AS cost, count(*) AS runs
FROM agent_runs WHERE {_RANGE} AND user_id IS NOT NULL
GROUP BY user_id ORDER BY cost DESC, runs DESC, user_id COLLATE "C"
"""


async def top_truth(conn: Any, start: datetime, end: datetime) -> dict[str, tuple[Decimal, int]]:
    """Every user's exact cost and runs over ``[start, end)``, in the ranking's order."""
    return {
        r["key"]: (r["cost"], r["runs"]) for r in await conn.fetch(TOP_SQL, PROJECT, start, end)
    }


def top_errors(exact: dict[str, tuple[Decimal, int]], body: dict[str, Any]) -> list[str]:
    """A top-users answer against the exact sums: each row's true cost within
    ``[cost_usd, cost_usd_max]`` (JSON floats: within 1e-9 relative), runs at most the true
    runs, and, when the answer says it is exact, the exact ranking's ids in order."""
    errors = []
    for row in body["rows"]:
        cost, runs = exact.get(row["key"], (Decimal(0), 0))
        low = float(row["cost_usd"])
        high = float(row["cost_usd_max"] if row.get("cost_usd_max") is not None else low)
        slack = 1e-9 * max(1.0, abs(float(cost)))
        if not low - slack <= float(cost) <= high + slack:
            errors.append(f"{row['key']}: exact cost {cost} outside [{low}, {high}]")
        if row["runs"] > runs:
            errors.append(f"{row['key']}: {row['runs']} runs > exact {runs}")
    keys = [row["key"] for row in body["rows"]]
    if not body["basis"].get("approximate") and keys != list(exact)[: len(keys)]:
        errors.append(f"said exact, but ids {keys[:5]} ≠ exact {list(exact)[:5]}")
    return errors
