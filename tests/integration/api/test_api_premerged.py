"""Rollup rows summed by Postgres per answer bucket (``api.premerged``): the answers that
read them (local-day series, breakdowns) are identical (floats to 12 digits) to the
answers folded row by row in Python, and to those where some rows lack packed bins (the
rows are then read one by one)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runtally.api import gather, rollups

from .test_api_exact import BASE, END, roll_all, seed
from .test_api_stored_percentiles import answers, comparable, set_everywhere

pytestmark = pytest.mark.integration

MORE = [
    ("/v1/timeseries", {"granularity": "day", "tz": "Asia/Kolkata"}),
    ("/v1/timeseries", {"granularity": "day", "tz": "America/New_York", "model": "claude-sonnet"}),
    ("/v1/breakdown", {"by": "error_type"}),
]


async def all_answers(client: httpx.AsyncClient, auth: dict[str, str]) -> list[Any]:
    return [*await answers(client, auth), *await answers(client, auth, MORE, [(BASE, END)])]


async def test_premerged_rows_answer_as_rows_folded_one_by_one(
    pool: Any, client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(pool)
    await roll_all(pool)
    summed: list[int] = []
    merged_sql = rollups.merged_sql

    def counting(*args: Any) -> Any:
        summed.append(sum(len(buckets) for _, buckets in args[0]))
        return merged_sql(*args)

    monkeypatch.setattr(rollups, "merged_sql", counting)
    premerged = await all_answers(client, auth)
    assert sum(summed) > 100  # rows were summed by Postgres

    rollup_parts = gather.rollup_parts

    async def row_by_row(*args: Any, **kwargs: Any) -> Any:
        return await rollup_parts(*args, **{**kwargs, "answer": None})  # rows one by one

    monkeypatch.setattr(gather, "rollup_parts", row_by_row)
    assert comparable(await all_answers(client, auth)) == comparable(premerged)
    monkeypatch.undo()

    await set_everywhere(pool, "lat_bins = NULL WHERE extract(hour FROM bucket)::int % 2 = 0")
    assert comparable(await all_answers(client, auth)) == comparable(premerged)
