"""/metrics business figures (runs, tokens, cost per project/agent/model, all time)
against ground truth from the events, over rolled-up and raw data; the `other` cap;
the cache; alert states; and the Grafana dashboard naming only exported metrics."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from runtally.alerts import store as alert_store
from runtally.alerts.rules import RuleSpec
from runtally.alerts.states import State, Step
from runtally.api.app import create_app
from runtally.config import Settings
from runtally.rollup.jobs import roll_pending
from tests.integration.api.data import Ev, generate, group, store, truth

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http


async def history(pool: Any, settings: Settings) -> list[Ev]:
    now = datetime.now(UTC)
    old = generate(1500, now - timedelta(days=3), timedelta(days=2), seed=21)
    old += generate(100, now - timedelta(days=3), timedelta(days=2), seed=22, project="acme")
    await store(pool, old)
    await roll_pending(pool, settings)
    fresh = generate(300, now - timedelta(hours=2), timedelta(minutes=110), seed=23)
    await store(pool, fresh)  # dirty hours, read from raw rows
    return old + fresh


def label(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def assert_totals(got: Samples, key: dict[str, str], events: list[Ev]) -> None:
    t = truth(events)
    assert got[("runtally_runs_total", label(**key, status="success"))] == t.successes
    assert got[("runtally_runs_total", label(**key, status="error"))] == t.failures
    for kind, count in (("input", t.input), ("output", t.output), ("cache_read", t.cache_read),
                        ("cache_write", t.cache_write)):  # fmt: skip
        assert got[("runtally_tokens_total", label(**key, kind=kind))] == count, (key, kind)
    assert got[("runtally_cost_usd_total", label(**key))] == float(t.cost), key


async def test_totals_per_pair_equal_ground_truth(pool: Any, settings: Settings) -> None:
    events = await history(pool, settings)
    async for http in scrape(settings):
        got = samples((await http.get("/metrics")).text)
    pairs = group(events, lambda e: (e.project, e.agent, e.model))
    runs = {k: v for k, v in got.items() if k[0] == "runtally_runs_total"}
    assert len(runs) == 2 * len(pairs)
    for (project, agent, model), members in pairs.items():
        assert_totals(got, {"project": project, "agent": agent, "model": model}, members)


async def test_pairs_beyond_the_cap_are_other(pool: Any, settings: Settings) -> None:
    events = await history(pool, settings)
    async for http in scrape(settings, metrics_max_pairs=4):
        got = samples((await http.get("/metrics")).text)
    demo = group([e for e in events if e.project == "demo"], lambda e: (e.agent, e.model))
    order = sorted(demo, key=lambda k: (-len(demo[k]), k))
    for agent, model in order[:4]:
        assert_totals(
            got, {"project": "demo", "agent": agent, "model": model}, demo[(agent, model)]
        )
    rest = [e for k in order[4:] for e in demo[k]]
    assert_totals(got, {"project": "demo", "agent": "other", "model": "other"}, rest)
    labelled = {dict(k[1])["agent"] for k in got if k[0] == "runtally_cost_usd_total"
                and dict(k[1])["project"] == "demo"}  # fmt: skip
    assert len(labelled) <= 5


async def test_figures_are_cached_then_refreshed(pool: Any, settings: Settings) -> None:
    now = datetime.now(UTC)
    first = generate(50, now - timedelta(hours=1), timedelta(minutes=30), seed=31)
    await store(pool, first)
    key = ("runtally_cost_usd_total",)
    async for http in scrape(settings, metrics_cache_s=3600):
        before = samples((await http.get("/metrics")).text)
        await store(pool, generate(50, now - timedelta(hours=1), timedelta(minutes=30), seed=32))
        after = samples((await http.get("/metrics")).text)
    costs = {k: v for k, v in before.items() if k[:1] == key}
    assert costs == {k: v for k, v in after.items() if k[:1] == key}  # served from cache
    async for http in scrape(settings, metrics_cache_s=0):
        fresh = samples((await http.get("/metrics")).text)
    total = sum(v for k, v in fresh.items() if k[:1] == key)
    second = generate(50, now - timedelta(hours=1), timedelta(minutes=30), seed=32)
    assert total == pytest.approx(float(truth(first + second).cost), rel=1e-12)
    assert total > sum(costs.values())


async def add_alert_state(pool: Any) -> None:
    spec = RuleSpec(name="cost spike", measure="cost_usd", op=">", threshold=1, window="1h",
                    webhook_url="https://example.com/h", group_by="agent")  # fmt: skip
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rule = await alert_store.create_rule(conn, "demo", spec)
        await alert_store.save_states(conn, rule.id, now, [
            ("coder", 3.5, 10, Step(State.ALERT, State.OK, now, True)),
            ("search", 0.5, 4, Step(State.OK, None, now, False)),
        ])  # fmt: skip


async def test_alert_states_on_metrics(pool: Any, settings: Settings) -> None:
    await add_alert_state(pool)
    async for http in scrape(settings):
        got = samples((await http.get("/metrics")).text)
    base = {"project": "demo", "rule_id": "1", "rule": "cost spike"}
    for group_key, current in (("coder", "alert"), ("search", "ok")):
        for state in State:
            value = got[("runtally_alert_state", label(**base, group=group_key, state=str(state)))]
            assert value == (1.0 if state == current else 0.0)
    assert got[("runtally_alert_value", label(**base, group="coder"))] == 3.5
    assert got[("runtally_alert_deliveries", label(status="failed"))] == 0


METRIC = re.compile(r"\b(runtally_[a-z0-9_]+)\b")


def dashboard_queries(repo_root: Path) -> list[str]:
    dashboard = json.loads((repo_root / "deploy/grafana/runtally.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    rules = yaml.safe_load((repo_root / "deploy/prometheus/rules.yml").read_text())
    exprs += [rule["expr"] for g in rules["groups"] for rule in g["rules"]]
    return exprs


async def test_grafana_and_prometheus_queries_name_only_exported_metrics(
    pool: Any, settings: Settings, redis_client: aioredis.Redis, repo_root: Path
) -> None:
    await history(pool, settings)
    await add_alert_state(pool)
    await redis_client.xadd(settings.stream, {"data": "x"})
    await redis_client.xgroup_create(settings.stream, settings.group, id="0")
    await redis_client.hset(settings.stats_key, mapping={"ingested": 1, "dead": 0})
    async for http in scrape(settings):
        exported = {name for name, _ in samples((await http.get("/metrics")).text)}
    queries = dashboard_queries(repo_root)
    assert len(queries) >= 20
    for query in queries:
        names = set(METRIC.findall(query))
        assert names, f"no runtally metric in {query!r}"
        assert names <= exported, f"{query!r} names {names - exported}, not exported"
