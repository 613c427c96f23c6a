"""/v1/summary and /v1/breakdown after a reprice equal Decimal ground truth (fresh from
raw rows at once, from rollups after the next rollup, also past raw retention), and the
summary names the price tables of its costs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from runtally.config import Settings
from runtally.reprice.plan import Window
from runtally.reprice.run import Options, reprice
from runtally.rollup.jobs import roll_pending
from tests.integration.reprice.kit import NEW, OLD, Run, insert, make_runs, table

from .conftest import new_key

pytestmark = pytest.mark.integration

RUNS = make_runs(3000, seed=11)
NOW = datetime(2026, 6, 10, tzinfo=UTC)
CUTOFF = datetime(2026, 6, 3, tzinfo=UTC)  # NOW with 7 days of raw retention
RANGES = (
    (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 5, tzinfo=UTC)),
    # Unaligned edges where raw runs are kept (a partial hour past retention has none).
    (datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 4, 17, 45, tzinfo=UTC)),
    (datetime(2026, 6, 3, 5, 30, tzinfo=UTC), datetime(2026, 6, 4, 17, 45, tzinfo=UTC)),
)


def cost(run: Run, document: dict[str, Any]) -> Decimal | None:
    return run.event_cost if run.event_cost is not None else run.cost(document)


async def answers_equal_truth(
    client: httpx.AsyncClient, key: str, document: dict[str, Any], versions: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    for start, end in RANGES:
        mine = [r for r in RUNS if r.project == "p1" and start <= r.started_at < end]
        params = {"from": start.isoformat(), "to": end.isoformat()}
        summary = (await client.get("/v1/summary", params=params, headers=headers)).json()
        assert summary["runs"] == len(mine)
        assert summary["cost_usd"] == float(sum(cost(r, document) or 0 for r in mine))
        assert summary["unpriced_runs"] == sum(1 for r in mine if cost(r, document) is None)
        assert summary["price_versions"] == versions
        by_model = (
            await client.get("/v1/breakdown", params={**params, "by": "model"}, headers=headers)
        ).json()
        got = {row["key"]: row["cost_usd"] for row in by_model["rows"]}
        assert got == {
            model: float(sum(cost(r, document) or 0 for r in mine if r.model == model))
            for model in {r.model for r in mine}
        }


async def test_api_equals_ground_truth_before_and_after_a_reprice(
    pool: Any, settings: Settings, client: httpx.AsyncClient
) -> None:
    key = await new_key(pool, "p1")
    async with pool.acquire() as conn:
        await insert(conn, RUNS, OLD)
    await roll_pending(pool, settings)
    await answers_equal_truth(client, key, OLD, [table(OLD).version])
    async with pool.acquire() as conn:  # retention dropped the raw runs before the cutoff
        await conn.execute("DELETE FROM agent_runs WHERE started_at < $1", CUTOFF)
        options = Options(Window.of_dates(None, None, None), True, 1000, 7)
        await reprice(conn, table(NEW), options, NOW)
    await answers_equal_truth(client, key, NEW, [table(NEW).version])  # fresh at once
    await roll_pending(pool, settings)
    await answers_equal_truth(client, key, NEW, [table(NEW).version])  # and after rollup
