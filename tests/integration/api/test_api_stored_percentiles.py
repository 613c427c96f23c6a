"""Stored percentiles (migration 0007): every rollup row written carries p50…p99 equal to
those of its own bins; answers that read them (hourly and daily series, breakdowns) are
identical (floats to 12 digits) to the answers from the bins alone (rows with
``lat_pcts`` NULL, as rows rolled before the migration are), and the series really did
read them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from runtally.api.gather import gather
from runtally.api.parts import fold
from runtally.api.schemas import Timeseries
from runtally.api.views import tallies_fields
from runtally.rollup.rows import TABLES
from runtally.sketch import LatencySketch
from runtally.store.selection import Selection
from runtally.stored_quantiles import NAMES, StoredQuantiles

from .data import iso
from .test_api_exact import BASE, CUT, END, roll_all, seed

pytestmark = pytest.mark.integration

QUESTIONS = [
    ("/v1/timeseries", {"granularity": "hour"}),
    ("/v1/timeseries", {"granularity": "day"}),
    ("/v1/timeseries", {"granularity": "hour", "agent": "coder"}),
    ("/v1/timeseries", {"granularity": "day", "tz": "America/New_York"}),
    ("/v1/timeseries", {"granularity": "hour", "group_by": "model"}),
    ("/v1/breakdown", {"by": "agent"}),
    ("/v1/breakdown", {"by": "model", "from": iso(BASE.replace(hour=6, minute=0, second=0,
                                                                microsecond=0)),
                       "to": iso(BASE.replace(hour=7, minute=0, second=0, microsecond=0))}),
    ("/v1/summary", {}),
]  # fmt: skip


async def answers(client: httpx.AsyncClient, auth: dict[str, str],
                  questions: Sequence[tuple[str, dict[str, str]]] = QUESTIONS,
                  spans: Sequence[tuple[datetime, datetime]] = ((BASE, END), CUT),
                  ) -> list[Any]:  # fmt: skip
    """The answers to ``questions`` over each span of ``spans``, in that order."""
    out = []
    for start, end in spans:
        for path, params in questions:
            query = {"from": iso(start), "to": iso(end), **params}
            response = await client.get(path, params=query, headers=auth)
            assert response.status_code == 200, response.text
            if path == "/v1/timeseries":  # its points are serialized unvalidated
                Timeseries.model_validate(response.json())
            out.append(response.json())
    return out


def comparable(answer: Any) -> Any:
    """``answer`` with floats to 12 significant digits: an UPDATE moves the rows, so
    they are read, and their float sums added, in another order (last-bit changes)."""
    if isinstance(answer, float):
        return float(f"{answer:.12g}")
    if isinstance(answer, dict):
        return {key: comparable(value) for key, value in answer.items()}
    if isinstance(answer, list):
        return [comparable(value) for value in answer]
    return answer


async def set_everywhere(pool: Any, assignment: str) -> None:
    """``UPDATE <table> SET <assignment>`` on every rollup table."""
    async with pool.acquire() as conn:
        for table in TABLES:
            await conn.execute(f"UPDATE {table} SET {assignment}")


async def assert_rows_carry_their_percentiles(conn: Any) -> int:
    """Every row's ``lat_pcts`` against ``LatencySketch.quantiles`` of its own bins."""
    checked = 0
    for table in TABLES:
        for row in await conn.fetch(
            f"SELECT lat_zero, lat_keys, lat_counts, duration_min, duration_max, lat_pcts"
            f" FROM {table}"
        ):
            sketch = LatencySketch.from_arrays(row["lat_zero"], row["lat_keys"],
                                               row["lat_counts"])  # fmt: skip
            reference = sketch.quantiles(row["duration_min"], row["duration_max"])
            assert row["lat_pcts"] == [reference[name] for name in NAMES]
            checked += 1
    return checked


async def assert_shown_rows_are_their_tallies(pool: Any, selection: Selection) -> None:
    """The rows ``gather`` shows as fields (``show``: JSON rendered by Postgres) have the
    fields of the same buckets' tallies read from their bins, and are not among the
    parts."""
    async with pool.acquire() as conn:
        _, parts, shown = await gather(conn, selection, "hour", distinct=False, lone=True,
                                       show=True)  # fmt: skip
        _, binned, _ = await gather(conn, selection, "hour", distinct=False)
    assert len(shown) >= 40
    assert not {b for b, _ in shown} & {g.bucket for g, _ in parts}
    by_hour = fold(binned, lambda g: g.bucket)
    buckets = [b for b, _ in shown]
    expected = tallies_fields([by_hour[b] for b in buckets], rate=False)
    assert [json.loads(fields) for _, fields in shown] == expected


async def test_stored_percentiles_answer_as_the_bins_do(
    pool: Any, client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await seed(pool)
    await roll_all(pool)
    async with pool.acquire() as conn:
        assert await assert_rows_carry_their_percentiles(conn) > 1000
        hourly = Selection("demo", datetime(2026, 3, 1, 6, tzinfo=UTC), END)
        _, parts, _ = await gather(conn, hourly, "hour", distinct=False, lone=True)
    stored = [t for _, t in parts if isinstance(t.latency, StoredQuantiles)]
    assert len(stored) >= 40  # the clean whole hours of the series read stored values
    await assert_shown_rows_are_their_tallies(pool, hourly)
    from_stored = await answers(client, auth)
    await set_everywhere(pool, "lat_pcts = NULL")
    assert comparable(await answers(client, auth)) == comparable(from_stored)
