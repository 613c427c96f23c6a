"""Fixtures of the alert tests: a real webhook receiver, alert settings, a rule maker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from runtally.alerts import store
from runtally.alerts.deliver import HttpPoster
from runtally.alerts.engine import PassStats, run_pass
from runtally.alerts.rules import RuleSpec
from runtally.config import Settings
from tests.receiver import Receiver, serve

INTERVAL_S = 60


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as r:
        yield r


@pytest.fixture
def alert_settings(settings: Settings) -> Settings:
    """Fast retries and a short delivery timeout."""
    return settings.model_copy(
        update={
            "alerts_interval_s": INTERVAL_S,
            "alerts_retry_base_s": 0.05,
            "alerts_delivery_timeout_s": 0.5,
            "alerts_delivery_budget_s": 5.0,
            "alerts_delivery_attempts": 4,
        }
    )


@pytest.fixture
async def poster(alert_settings: Settings) -> AsyncIterator[HttpPoster]:
    p = HttpPoster(alert_settings.alerts_delivery_timeout_s)
    yield p
    await p.aclose()


RuleMaker = Callable[..., Awaitable[store.Rule]]
Pass = Callable[..., Awaitable[PassStats]]


@pytest.fixture
def make_rule(pool: Any, receiver: Receiver) -> RuleMaker:
    async def make(project: str = "demo", **fields: Any) -> store.Rule:
        spec = RuleSpec.model_validate({"name": "r", "webhook_url": receiver.url, **fields})
        async with pool.acquire() as conn:
            return await store.create_rule(conn, project, spec)

    return make


@pytest.fixture
def check(pool: Any, alert_settings: Settings, poster: HttpPoster) -> Pass:
    """One alert pass with a clock that starts at ``now`` and runs at real speed (so
    delivery retries come due)."""

    async def run(now: datetime, budget_s: float | None = None) -> PassStats:
        began = time.monotonic()

        def clock() -> datetime:
            return now + timedelta(seconds=time.monotonic() - began)

        return await run_pass(pool, alert_settings, poster, clock, budget_s)

    return run


async def states(pool: Any, rule_id: int) -> dict[str, store.StoredState]:
    async with pool.acquire() as conn:
        return {s.group: s for s in await store.states_of(conn, [rule_id])}


async def deliveries(pool: Any, rule_id: int) -> list[Any]:
    async with pool.acquire() as conn:
        return list(
            await conn.fetch(
                "SELECT * FROM alert_deliveries WHERE rule_id = $1 ORDER BY id", rule_id
            )
        )
