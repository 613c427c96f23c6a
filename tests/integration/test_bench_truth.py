"""The read benchmark's raw truth (``bench.truth``) against real Postgres: each exact
answer equals the one numpy and Decimal compute from the same rows fetched one by one."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from bench import sqlgen
from bench.questions import QUESTIONS
from bench.truth import QUANTILES, truth

from runtally.config import Settings
from runtally.store.engine import connect
from runtally.store.partitions import ensure_partitions

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 7, 20, 17, tzinfo=UTC)  # 2 days, unaligned, across NY's DST change
END = START + timedelta(days=2)
ROWS = 3_000


def _key(label: str, row: Any) -> str:
    moment: datetime = row["started_at"]
    if label == "hourly series":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")
    if label.startswith("daily series"):
        zone = label.removeprefix("daily series ")
        return moment.astimezone(ZoneInfo(zone)).date().isoformat()
    if label.startswith("breakdown by tag:"):
        return str(row["environment"])
    if label.startswith("breakdown by"):
        return str(row[label.removeprefix("breakdown by ")])
    return "all"


def _expected(label: str, rows: list[Any]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[_key(label, row)].append(row)
    out = {}
    for key, members in groups.items():
        durations = np.array([r["duration_ms"] for r in members])
        out[key] = {
            "runs": len(members),
            "successes": sum(r["status"] == "success" for r in members),
            "min": float(durations.min()),
            "max": float(durations.max()),
            "quantiles": [float(np.quantile(durations, q, method="lower")) for _, q in QUANTILES],
            "input": sum(r["input_tokens"] for r in members),
            "cost": sum((r["cost_usd"] for r in members), Decimal(0)),
            "users": len({r["user_id"] for r in members}),
        }
    return out


async def test_every_question_s_truth_equals_numpy_over_the_same_rows(settings: Settings) -> None:
    conn = await connect(settings)
    try:
        await ensure_partitions(conn, START.date(), END.date())
        # A few rows outside the range, which no answer may count.
        await sqlgen.insert_span(conn, START - timedelta(hours=1), 50, 60.0)
        await sqlgen.insert_span(conn, START, ROWS, (END - START).total_seconds() / ROWS)
        await sqlgen.insert_span(conn, END, 50, 60.0)
        rows = await conn.fetch(
            "SELECT *, tags->>'environment' AS environment FROM agent_runs "
            "WHERE started_at >= $1 AND started_at < $2",
            START,
            END,
        )
        assert len(rows) == ROWS
        for question in QUESTIONS:
            got = (await truth(conn, question, START, END)).rows
            want = _expected(question.label, rows)
            assert set(got) == set(want), question.label
            for key, row in want.items():
                mine = got[key]
                assert mine["runs"] == row["runs"], (question.label, key)
                assert mine["successes"] == row["successes"]
                assert (mine["min"], mine["max"]) == (row["min"], row["max"])
                assert mine["quantiles"] == row["quantiles"], (question.label, key)
                assert mine["input"] == row["input"]
                assert mine["cost"] == row["cost"]
                if question.distinct:
                    assert mine["users"] == row["users"]
        assert len({r["environment"] for r in rows}) == 3  # the tag breakdown has 3 rows
    finally:
        await conn.close()


async def test_generated_users_and_sessions_follow_the_row_index_across_chunks(
    settings: Settings,
) -> None:
    """Two chunks of one fill give distinct users and sessions (up to ``USERS`` and
    ``SESSIONS``), not the same ones again as when each chunk counted from 0."""
    conn = await connect(settings)
    try:
        await ensure_partitions(conn, START.date(), END.date())
        await sqlgen.insert_span(conn, START, 1_500, 1.0, first=0)
        await sqlgen.insert_span(conn, START + timedelta(hours=1), 1_500, 1.0, first=1_500)
        users, sessions = await conn.fetchrow(
            "SELECT count(DISTINCT user_id), count(DISTINCT session_id) FROM agent_runs"
        )
        assert (users, sessions) == (3_000, 3_000)
        assert (sqlgen.USERS, sqlgen.SESSIONS) == (100_000, 500_000)
    finally:
        await conn.close()
