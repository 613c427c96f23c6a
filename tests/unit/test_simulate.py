"""The synthetic fleet: every event is valid wire format v1 and the mix looks real."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtally.devstack.fleet import run_fleet
from runtally.devstack.simulate import (
    ERROR_TYPES,
    KINDS,
    MODELS,
    Population,
    build_fleet,
    make_event,
)
from runtally.events import parse_event

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    rng = random.Random(7)
    fleet = build_fleet(8)
    population = Population()
    return [make_event(rng, rng.choice(fleet), population, NOW) for _ in range(20_000)]


def test_every_event_is_valid_wire_format(events: list[dict[str, Any]]) -> None:
    for event in events:
        parsed = parse_event(json.dumps(event))
        assert parsed.ended <= NOW + timedelta(milliseconds=1)


def test_error_share_and_types(events: list[dict[str, Any]]) -> None:
    errors = Counter(e["error_type"] for e in events if e.get("status") == "error")
    share = sum(errors.values()) / len(events)
    assert 0.03 <= share <= 0.08
    assert set(errors) == {name for name, _ in ERROR_TYPES}


def test_models_agents_users_and_sessions(events: list[dict[str, Any]]) -> None:
    assert len({e["model"] for e in events}) >= 5
    assert len({e["agent"] for e in events}) == 8
    assert len({e["user_id"] for e in events}) > 100
    assert len({e["session_id"] for e in events}) > len({e["user_id"] for e in events})


def test_latency_has_a_heavy_tail(events: list[dict[str, Any]]) -> None:
    triage = np.array([e["duration_ms"] for e in events if e["agent"] == "triage"])
    p50, p99 = np.percentile(triage, [50, 99])
    assert 700 < p50 < 1200  # around the profile's 900 ms median
    assert p99 / p50 > 4  # lognormal alone (sigma 0.4) would give about 2.5


def test_tokens_cached_tokens_explicit_cost_and_late_events(events: list[dict[str, Any]]) -> None:
    with_tokens = [e for e in events if "input_tokens" in e]
    assert len(with_tokens) > 0.9 * len(events)
    cached = [e for e in with_tokens if "cache_read_tokens" in e]
    assert 0.2 < len(cached) / len(with_tokens) < 0.9
    assert all(e["cache_read_tokens"] <= e["input_tokens"] for e in cached)
    explicit = sum("cost_usd" in e for e in events) / len(events)
    assert 0.05 < explicit < 0.15
    late = sum(
        datetime.fromisoformat(e["started_at"]) < NOW - timedelta(minutes=59) for e in events
    )
    assert 0.005 < late / len(events) < 0.02


def test_fleet_names_are_unique_past_the_number_of_kinds() -> None:
    names = [a.name for a in build_fleet(20)]
    assert len(set(names)) == 20
    assert names[0] == "support-bot"
    assert "support-bot-2" in names
    with pytest.raises(ValueError):
        build_fleet(0)


async def test_run_fleet_publishes_until_stopped_and_counts() -> None:
    published: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def publish(event: dict[str, Any]) -> None:
        published.append(event)
        if len(published) == 200:
            stop.set()

    stats = await run_fleet(publish, stop, agents=3, rate=100_000, seed=1)
    assert stats.published == len(published) == 200
    assert sum(stats.by_agent.values()) == 200
    assert sum(stats.errors.values()) == sum(e.get("status") == "error" for e in published)


async def test_run_fleet_survives_publish_failures() -> None:
    stop = asyncio.Event()
    calls = 0

    async def publish(event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 20:
            stop.set()
        if calls % 2:
            raise ConnectionError("redis went away")

    stats = await run_fleet(publish, stop, agents=2, rate=100_000, seed=2)
    assert (stats.published, stats.failed) == (10, 10)


def test_every_simulated_model_has_a_price(repo_root: Path) -> None:
    prices = json.loads((repo_root / "src/runtally/prices.json").read_text())["models"]
    used = {model for kind in KINDS for model in kind.models}
    assert used == set(MODELS)
    assert used <= set(prices)
