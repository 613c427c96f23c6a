"""Staging against a real Redis: order, duplicates, settle time, timeout, racing deciders."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from runtally.config import Settings
from runtally.events import RunEvent, parse_event
from runtally.otel import intake
from runtally.otel.staging import Staging
from runtally.otel.sweep import sweep_once
from tests.otel_support import make_request, make_span

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0
AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"}


def chat(tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out,
    }


def staging_for(client: aioredis.Redis, settings: Settings, **changes: Any) -> Staging:
    return Staging(client, settings.model_copy(update={"otel_settle_s": 0.0, **changes}))


async def send(staging: Staging, spans: Sequence[Span], now: float = NOW) -> intake.Outcome:
    return await intake.accept(staging, "demo", make_request(spans), now)


async def published(client: aioredis.Redis, settings: Settings) -> list[RunEvent]:
    entries = await client.xrange(settings.stream)
    return [parse_event(fields[b"data"]) for _, fields in entries]


# trace 1: planner (root, span 1) -> tool (2) -> chat (3); planner -> chat (4)
CHILDREN = [
    make_span(1, 3, 2, chat(100, 10)),
    make_span(1, 4, 1, chat(200, 20)),
    make_span(1, 2, 1, {"gen_ai.operation.name": "execute_tool"}),
]
ROOT = [make_span(1, 1, None, AGENT)]


async def test_children_first_then_root_makes_one_run_and_reexports_change_nothing(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings)
    first = await send(staging, CHILDREN)
    assert (first.accepted, first.published) == (3, 0)
    assert await published(redis_client, settings) == []
    assert (await send(staging, ROOT)).published == 1
    for batch in (CHILDREN, ROOT, CHILDREN + ROOT, CHILDREN[:1]):  # every span again
        assert (await send(staging, batch)).published == 0
    (event,) = await published(redis_client, settings)
    assert (event.agent, event.model, event.input_tokens, event.output_tokens) == (
        "planner", "gpt-4o", 300, 30,
    )  # fmt: skip
    assert await redis_client.zcard(settings.otel_due_key) == 0
    assert 0 < await redis_client.ttl(staging.key("demo", f"{1:032x}")) <= settings.otel_trace_ttl_s


async def test_a_trace_without_root_is_decided_after_the_timeout(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings, otel_trace_timeout_s=60.0)
    await send(staging, CHILDREN, now=NOW)
    await send(staging, [make_span(1, 5, 2, chat(1, 1))], now=NOW + 30)  # activity moves it
    assert await sweep_once(staging, NOW + 89) == 0
    assert await sweep_once(staging, NOW + 90) == 3  # its chats are runs of their service
    events = await published(redis_client, settings)
    assert sorted((e.agent, e.input_tokens) for e in events) == [
        ("svc", 1),
        ("svc", 100),
        ("svc", 200),
    ]
    # the root arriving late is a run of its own, and re-sent children count nothing again
    await send(staging, ROOT + CHILDREN, now=NOW + 100)
    late = (await published(redis_client, settings))[3:]
    assert [(e.agent, e.input_tokens) for e in late] == [("planner", None)]


async def test_settle_time_lets_late_children_of_other_services_join(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings, otel_settle_s=5.0)
    outcome = await send(staging, CHILDREN + ROOT)
    assert outcome.published == 0  # decided by the sweeper after the settle time
    await send(staging, [make_span(1, 9, 2, chat(7, 7))], now=NOW + 2)
    assert await sweep_once(staging, NOW + 6.9) == 0
    assert await sweep_once(staging, NOW + 7) == 1
    (event,) = await published(redis_client, settings)
    assert (event.input_tokens, event.output_tokens, event.metadata) == (
        307, 37, {"source": "otlp", "span_id": f"{1:016x}", "llm_calls": 3},
    )  # fmt: skip


async def test_racing_deciders_publish_a_trace_once(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings, otel_settle_s=1.0)
    traces = [make_span(t, 1, None, AGENT) for t in range(1, 41)]
    traces += [make_span(t, 2, 1, chat(t, 1)) for t in range(1, 41)]
    await send(staging, traces)
    others = [staging_for(redis_client, settings) for _ in range(4)]
    counts = await asyncio.gather(*(sweep_once(s, NOW + 2) for s in [staging, *others]))
    assert sum(counts) == 40
    events = await published(redis_client, settings)
    assert sorted(e.input_tokens or 0 for e in events) == list(range(1, 41))


async def test_projects_are_kept_apart(redis_client: aioredis.Redis, settings: Settings) -> None:
    staging = staging_for(redis_client, settings)
    await intake.accept(staging, "p1", make_request(CHILDREN + ROOT), NOW)
    await intake.accept(staging, "p2", make_request(CHILDREN + ROOT), NOW)
    events = await published(redis_client, settings)
    assert sorted(e.project for e in events) == ["p1", "p2"]
    assert events[0].event_id != events[1].event_id


async def test_concurrent_first_requests_all_succeed(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """The first requests of a process race to learn whether Redis can confirm AOF fsync."""
    staging = staging_for(redis_client, settings)
    requests = [[make_span(t, 1, None, AGENT), make_span(t, 2, 1, chat(t, 1))] for t in range(1, 9)]
    outcomes = await asyncio.gather(*(send(staging, spans) for spans in requests))
    assert [o.published for o in outcomes] == [1] * 8


async def test_an_expired_trace_leaves_the_due_set(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings, otel_settle_s=1.0)
    await send(staging, CHILDREN)
    await redis_client.delete(staging.key("demo", f"{1:032x}"))  # as if its TTL ran out
    assert await sweep_once(staging, NOW + 10**6) == 0
    assert await redis_client.zcard(settings.otel_due_key) == 0


async def test_a_trace_without_agent_or_llm_spans_leaves_nothing_behind(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    staging = staging_for(redis_client, settings)
    http = {"http.request.method": "GET"}
    plain = [make_span(2, 2, 1, http), make_span(2, 1, None, http)]
    for _ in range(2):  # exported twice: staged and decided again, to no effect
        assert (await send(staging, plain)).published == 0
        assert await redis_client.exists(staging.key("demo", f"{2:032x}")) == 0
    assert await redis_client.zcard(settings.otel_due_key) == 0
    assert await published(redis_client, settings) == []


async def test_a_decider_with_a_stale_read_changes_nothing(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Versions are never reused: a read from before a trace was deleted and staged anew
    cannot commit over the new spans (they stay due and are decided later)."""
    staging = staging_for(redis_client, settings, otel_settle_s=1.0)
    key = staging.key("demo", f"{2:032x}")
    http = {"http.request.method": "GET"}
    await send(staging, [make_span(2, 1, None, http)])
    stale = await redis_client.hgetall(key)
    assert await sweep_once(staging, NOW + 2) == 0  # decided: nothing left, key deleted
    assert await redis_client.exists(key) == 0
    await send(staging, [make_span(2, 5, 1, chat(9, 9))], now=NOW + 3)  # a late call
    commit_keys, commit_args = staging._commit_keys(key), staging._commit_args(key, stale)
    assert await staging._commit(keys=commit_keys, args=commit_args) == -1
    assert await sweep_once(staging, NOW + 3 + settings.otel_trace_timeout_s) == 1
    (event,) = await published(redis_client, settings)
    assert (event.agent, event.input_tokens) == ("svc", 9)
