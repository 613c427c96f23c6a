"""Every measure an alert rule reads, against ground truth computed from the events
alone (Decimal sums, numpy percentiles), over windows that cut rolled-up hours, dirty
hours and raw edges — the read API's own path. Per-user cost over a rolling window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from runtally.config import Settings
from runtally.rollup.jobs import roll_pending
from tests.integration.alerts.conftest import Pass, RuleMaker, states
from tests.integration.api.data import Ev, generate, group, in_range, store, truth
from tests.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 2, 9, 0, 17, tzinfo=UTC)
HOUR = timedelta(hours=1)
MEASURES = ("cost_usd", "runs", "failures", "error_rate", "p95_latency_ms", "p99_latency_ms",
            "tokens")  # fmt: skip


def never(measure: str) -> float:
    """A threshold ``>`` never passes (error_rate is at most 1)."""
    return 1.0 if measure == "error_rate" else 1e12


def expected(measure: str, events: list[Ev]) -> float:
    t = truth(events)
    exact = {
        "cost_usd": float(t.cost),
        "runs": float(t.runs),
        "failures": float(t.failures),
        "error_rate": t.failures / t.runs,
        "tokens": float(t.input + t.output),
    }
    if measure in exact:
        return exact[measure]
    q = 95 if measure == "p95_latency_ms" else 99
    return float(np.percentile(t.durations, q, method="lower"))


def assert_measured(measure: str, value: float | None, events: list[Ev], where: str) -> None:
    want = expected(measure, events)
    assert value is not None, where
    if measure.endswith("latency_ms"):  # DDSketch: 1 % bins (see api data.check)
        assert abs(value - want) <= 0.02 * want, (where, value, want)
    else:
        assert value == want, (where, value, want)


@pytest.fixture
async def history(pool: Any, alert_settings: Settings) -> list[Ev]:
    """Four hours of runs, rolled up; then late runs that re-dirty the last hour."""
    early = generate(3000, T0 - 4 * HOUR, 4 * HOUR, seed=11)
    await store(pool, early)
    await roll_pending(pool, alert_settings)
    late = generate(400, T0 - timedelta(minutes=40), timedelta(minutes=40), seed=12)
    await store(pool, late)
    return early + late


@pytest.mark.parametrize("window", ["2h", "25m", "3h"])
async def test_every_measure_of_the_whole_project(
    pool: Any, make_rule: RuleMaker, check: Pass, history: list[Ev], window: str
) -> None:
    rules = {
        m: await make_rule(measure=m, op=">", threshold=never(m), window=window) for m in MEASURES
    }
    await check(T0)
    for measure, rule in rules.items():
        state = (await states(pool, rule.id))[""]
        span = rule.spec.window_span
        events = in_range(history, state.evaluated_at - span, state.evaluated_at)
        assert state.runs == len(events)
        assert state.state == "ok"
        assert_measured(measure, state.value, events, f"{measure} over {window}")


async def test_grouped_and_filtered_measures(
    pool: Any, make_rule: RuleMaker, check: Pass, history: list[Ev]
) -> None:
    by_agent = {
        m: await make_rule(
            measure=m,
            op=">",
            threshold=never(m),
            window="2h",
            group_by="agent",
            filters={"model": "gpt-4o"},
        )
        for m in MEASURES
    }
    by_model = await make_rule(measure="tokens", op=">", threshold=0, window="2h",
                               group_by="model", top_n=2)  # fmt: skip
    await check(T0)
    for measure, rule in by_agent.items():
        found = await states(pool, rule.id)
        now = next(iter(found.values())).evaluated_at
        events = [e for e in in_range(history, now - 2 * HOUR, now) if e.model == "gpt-4o"]
        groups = group(events, lambda e: e.agent)
        assert set(found) == set(groups)
        for agent, members in groups.items():
            assert found[agent].runs == len(members)
            assert_measured(measure, found[agent].value, members, f"{measure} of {agent}")
    found = await states(pool, by_model.id)
    now = next(iter(found.values())).evaluated_at
    groups = group(in_range(history, now - 2 * HOUR, now), lambda e: e.model)
    top = sorted(groups, key=lambda k: (-len(groups[k]), k))[:2]
    assert set(found) == set(top)
    for model in top:
        assert found[model].state == "alert"
        assert_measured("tokens", found[model].value, groups[model], model)


def top_cost_users(events: list[Ev], n: int) -> dict[str, list[Ev]]:
    users = group([e for e in events if e.user_id], lambda e: e.user_id)
    cost = {u: truth(members).cost for u, members in users.items()}
    order = sorted(users, key=lambda u: (-cost[u], -len(users[u]), u))[:n]
    return {u: users[u] for u in order}


async def test_per_user_cost_over_a_rolling_window(
    pool: Any, make_rule: RuleMaker, check: Pass, history: list[Ev], receiver: Receiver
) -> None:
    threshold = 1.2
    rule = await make_rule(measure="cost_usd", op=">", threshold=threshold, window="1h",
                           group_by="user", top_n=5)  # fmt: skip
    alerting: set[str] = set()
    notified: list[tuple[str, str]] = []
    for minutes in (0, 20, 40, 60, 80):
        await check(T0 + timedelta(minutes=minutes))
        found = await states(pool, rule.id)
        now = max(s.evaluated_at for s in found.values())
        top = top_cost_users(in_range(history, now - HOUR, now), 5)
        measured = {g for g, s in found.items() if s.evaluated_at == now and s.runs}
        assert measured == set(top), minutes
        for user, members in top.items():
            assert found[user].value == float(truth(members).cost), (minutes, user)
            assert found[user].state == ("alert" if truth(members).cost > 1.2 else "ok")
        now_alerting = {u for u, s in found.items() if s.state == "alert"}
        notified += [(u, "alert") for u in sorted(now_alerting - alerting)]
        alerting = now_alerting
    assert any(state == "alert" for _, state in notified)
    got = receiver.wait_for(len(notified))
    alerts = sorted((r.json()["group"], r.json()["state"]) for r in got
                    if r.json()["state"] == "alert")  # fmt: skip
    assert alerts == sorted(notified)
