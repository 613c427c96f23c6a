"""Alert evaluation and delivery against a real local HTTP receiver and real Postgres:
signed bodies, one notification per transition across repeated checks and concurrent
schedulers, retries after 500s, a down receiver blocking nothing, no_data with min_runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runtally.alerts.engine import evaluate_rule
from runtally.alerts.payload import verify
from tests.integration.alerts.conftest import Pass, RuleMaker, deliveries, states
from tests.integration.alerts.events import add_runs
from tests.receiver import Receiver, serve

pytestmark = pytest.mark.integration

T0 = datetime(2026, 4, 2, 9, 0, 17, tzinfo=UTC)  # off interval boundaries
MIN = timedelta(minutes=1)


async def test_one_signed_notification_per_transition(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    rule = await make_rule(measure="runs", op=">", threshold=50, window="10m")
    await add_runs(pool, 40, T0 - 5 * MIN)
    await check(T0)
    assert (await states(pool, rule.id))[""].state == "ok"
    await add_runs(pool, 20, T0 - 2 * MIN)
    for i in range(1, 5):  # four more passes, each in its own interval
        await check(T0 + i * MIN)
    got = receiver.wait_for(1)
    assert len(got) == 1
    body = got[0].json()
    assert verify(rule.secret, got[0].body, got[0].headers["X-Runtally-Signature"])
    assert (body["state"], body["previous_state"], body["value"], body["runs"]) == (
        "alert", "ok", 60.0, 60,
    )  # fmt: skip
    assert body["rule_id"] == rule.id
    assert body["rule_name"] == "r"
    assert body["group"] == ""
    assert body["threshold"] == 50
    end = T0 + MIN
    assert body["window_end"].startswith(end.isoformat()[:19])
    assert body["dedupe_key"] == f"{rule.id}::{body['window_end']}"
    # the runs leave the window: back to ok, notified once more
    for i in range(20, 24):
        await check(T0 + i * MIN)
    got = receiver.wait_for(2)
    assert [r.json()["state"] for r in got] == ["alert", "ok"]
    assert got[1].json()["previous_state"] == "alert"
    assert all(verify(rule.secret, r.body, r.headers["X-Runtally-Signature"]) for r in got)
    log = await deliveries(pool, rule.id)
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 1)] * 2


async def test_two_schedulers_notify_once(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    rule = await make_rule(measure="failures", op=">=", threshold=5, window="5m")
    await add_runs(pool, 8, T0 - 2 * MIN, status="error")
    # same interval: one of them claims the rule
    first = await asyncio.gather(check(T0), check(T0))
    assert sorted(s.rules for s in first) == [0, 1]
    # different intervals at once: each claims its interval unless a later one already
    # ran (evaluated_at only moves forward); the rule lock serializes the state changes,
    second = await asyncio.gather(check(T0 + MIN), check(T0 + 2 * MIN))
    assert [s.rules for s in second] in ([1, 1], [0, 1])
    # the older one is dropped if the newer one's states landed first
    assert 1 <= sum(s.groups for s in second) <= sum(s.rules for s in second)
    await asyncio.sleep(0.2)
    assert len(receiver.wait_for(1)) == 1
    assert [d["state"] for d in await deliveries(pool, rule.id)] == ["alert"]


async def test_retries_after_500s(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    rule = await make_rule(measure="runs", op=">", threshold=1, window="5m")
    await add_runs(pool, 3, T0 - MIN)
    stats = await check(T0)
    got = receiver.wait_for(3)
    assert len(got) == 3
    assert len({r.body for r in got}) == 1  # the same notification, re-sent
    assert all(verify(rule.secret, r.body, r.headers["X-Runtally-Signature"]) for r in got)
    assert (stats.sent.delivered, stats.sent.retrying, stats.sent.failed) == (1, 2, 0)
    (log,) = await deliveries(pool, rule.id)
    assert (log["status"], log["attempts"], log["last_status"]) == ("delivered", 3, 200)


async def test_a_down_receiver_blocks_nothing_and_gives_up(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    with serve() as slow:
        slow.delay_s = 2.0  # longer than the 0.5 s delivery timeout
        stuck = await make_rule(measure="runs", op=">", threshold=1, window="5m",
                                webhook_url=slow.url)  # fmt: skip
        refused = await make_rule(measure="runs", op=">", threshold=1, window="5m",
                                  webhook_url="http://127.0.0.1:9/nothing")  # fmt: skip
        fine = await make_rule(measure="runs", op=">", threshold=1, window="5m")
        await add_runs(pool, 3, T0 - MIN)
        stats = await check(T0, budget_s=5.0)
        assert stats.rules == 3
        assert stats.notices == 3
        assert len(receiver.wait_for(1)) == 1
        assert (await deliveries(pool, fine.id))[0]["status"] == "delivered"
        for rule, error in ((stuck, "TimeoutError"), (refused, "ConnectError")):
            (log,) = await deliveries(pool, rule.id)
            assert log["status"] == "failed", log  # 4 attempts, then given up
            assert log["attempts"] == 4
            assert error in log["last_error"]


async def test_no_data_below_min_runs(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    rule = await make_rule(measure="error_rate", op=">", threshold=0.5, window="10m", min_runs=30)
    await add_runs(pool, 10, T0 - 3 * MIN, status="error")
    await check(T0)
    state = (await states(pool, rule.id))[""]
    assert (state.state, state.value, state.runs) == ("no_data", 1.0, 10)
    assert receiver.received() == []  # first sight, not firing: nothing to say
    await add_runs(pool, 25, T0 - 2 * MIN, status="error")
    await check(T0 + MIN)
    (got,) = receiver.wait_for(1)
    assert (got.json()["state"], got.json()["previous_state"], got.json()["runs"]) == (
        "alert", "no_data", 35,
    )  # fmt: skip


async def test_repeat_after_a_quiet_period(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    await make_rule(measure="runs", op=">", threshold=1, window="2h", repeat_after="30m")
    await add_runs(pool, 5, T0 - MIN)
    for minutes in (0, 10, 29, 31, 45, 62):
        await check(T0 + minutes * MIN)
    got = receiver.wait_for(3)
    assert [(r.json()["state"], r.json()["repeat"]) for r in got] == [
        ("alert", False), ("alert", True), ("alert", True),
    ]  # fmt: skip


async def test_a_vanished_group_goes_no_data_then_is_forgotten(
    pool: Any, make_rule: RuleMaker, check: Pass, receiver: Receiver
) -> None:
    rule = await make_rule(measure="runs", op=">", threshold=2, window="10m", group_by="agent")
    await add_runs(pool, 5, T0 - 2 * MIN, agent="coder")
    await add_runs(pool, 1, T0 - 2 * MIN, agent="triage")
    await check(T0)
    found = await states(pool, rule.id)
    assert {g: s.state for g, s in found.items()} == {"coder": "alert", "triage": "ok"}
    await add_runs(pool, 1, T0 + 9 * MIN, agent="triage")
    await check(T0 + 10 * MIN)  # coder's runs left the window: no_data, notified
    found = await states(pool, rule.id)
    assert {g: s.state for g, s in found.items()} == {"coder": "no_data", "triage": "ok"}
    await check(T0 + 15 * MIN)
    assert "coder" in await states(pool, rule.id)  # not yet a whole window unmeasured
    await check(T0 + 21 * MIN)
    # triage's run left the window just now: no_data (kept: it changed state this pass)
    assert {g: s.state for g, s in (await states(pool, rule.id)).items()} == {"triage": "no_data"}
    got = receiver.wait_for(3)
    assert [(r.json()["group"], r.json()["state"]) for r in got] == [
        ("coder", "alert"), ("coder", "no_data"), ("triage", "no_data"),
    ]  # fmt: skip


async def test_an_older_evaluation_never_overwrites_a_newer_one(
    pool: Any, make_rule: RuleMaker
) -> None:
    rule = await make_rule(measure="runs", op=">", threshold=5, window="10m")
    await add_runs(pool, 8, T0 - 5 * MIN)
    assert await evaluate_rule(pool, rule, T0 + 2 * MIN) == (1, 1)
    assert await evaluate_rule(pool, rule, T0 - 4 * MIN) == (0, 0)  # would say ok
    state = (await states(pool, rule.id))[""]
    assert (state.state, state.evaluated_at) == ("alert", T0 + 2 * MIN)
    assert len(await deliveries(pool, rule.id)) == 1
