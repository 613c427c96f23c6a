"""A synthetic agent fleet: realistic run events for demos, load and dashboards.

``make_event`` is pure (randomness and clock are passed in), so its distributions are
testable; ``run_fleet`` paces events at a Poisson rate and hands them to a publish
callable (the ``Publisher`` in production, a list in tests) until a stop event is set.

What the fleet looks like:
- agents of several kinds, each with its own models, latency profile and error rate;
- latency is lognormal around the agent's median with a heavy tail (a few percent of runs
  are 3-20x slower: retries, long tool calls);
- token counts are lognormal per agent; part of the input is cached prompt;
- 3-8 % of runs fail, with several error types (rate limits, timeouts, tool errors...);
- a pool of users with sessions, a few heavy users doing most of the runs;
- some events carry an explicit ``cost_usd``; about 1 % arrive late (started hours ago).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from runtally.config import Settings

MODELS = (
    "gpt-4.1",
    "gpt-5-mini",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
)
ERROR_TYPES = (
    ("RateLimitError", 0.35),
    ("Timeout", 0.25),
    ("ToolError", 0.2),
    ("ContextLengthExceeded", 0.1),
    ("InvalidResponse", 0.1),
)
ERROR_MESSAGES = {
    "RateLimitError": "429 Too Many Requests: rate limit reached for requests",
    "Timeout": "model call exceeded the deadline",
    "ToolError": "tool 'search' failed: upstream returned 502",
    "ContextLengthExceeded": "prompt is longer than the model's context window",
    "InvalidResponse": "model output did not match the expected JSON schema",
}


@dataclass(frozen=True)
class AgentProfile:
    """How one kind of agent behaves: its models and the shape of its runs."""

    kind: str
    models: tuple[str, ...]
    median_ms: float
    sigma: float
    error_rate: float
    input_median: int
    output_median: int
    cache_share: float


_P = AgentProfile
KINDS = (
    _P("support-bot", ("gpt-5-mini", "claude-haiku-4-5"), 1800, 0.5, 0.03, 1800, 250, 0.6),
    _P("code-reviewer", ("claude-sonnet-4-5", "gpt-4.1"), 9000, 0.6, 0.05, 12000, 900, 0.5),
    _P("research-agent", ("gpt-4.1", "gemini-2.5-pro"), 22000, 0.7, 0.08, 25000, 1600, 0.3),
    _P("sql-analyst", ("gpt-5-mini", "gemini-2.5-flash"), 3500, 0.5, 0.04, 4000, 300, 0.4),
    _P("triage", ("claude-haiku-4-5", "gemini-2.5-flash"), 900, 0.4, 0.03, 900, 80, 0.7),
    _P("summarizer", ("gemini-2.5-flash", "gpt-5-mini"), 2500, 0.5, 0.04, 6000, 400, 0.2),
    _P("planner", ("claude-sonnet-4-5",), 6000, 0.6, 0.06, 3000, 700, 0.5),
    _P("email-drafter", ("gpt-5-mini",), 1500, 0.4, 0.03, 1200, 350, 0.3),
)  # fmt: skip


@dataclass(frozen=True)
class Agent:
    """One agent of the fleet: a name and the profile of its kind."""

    name: str
    profile: AgentProfile


def build_fleet(count: int) -> list[Agent]:
    """``count`` agents; past the number of kinds, kinds repeat with a numeric suffix."""
    if count < 1:
        raise ValueError("a fleet needs at least one agent")
    agents = []
    for index in range(count):
        profile = KINDS[index % len(KINDS)]
        round_ = index // len(KINDS)
        name = profile.kind if round_ == 0 else f"{profile.kind}-{round_ + 1}"
        agents.append(Agent(name, profile))
    return agents


@dataclass
class Population:
    """Users with sessions. User ``i`` is picked with weight 1/(i+1) (a few heavy users)."""

    users: int = 200
    sessions_per_user: int = 5
    weights: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.weights = [1.0 / (i + 1) for i in range(self.users)]

    def pick(self, rng: random.Random) -> tuple[str, str]:
        user = rng.choices(range(self.users), weights=self.weights)[0]
        session = rng.randrange(self.sessions_per_user)
        return f"user-{user:04d}", f"sess-{user:04d}-{session}"


def latency_ms(rng: random.Random, profile: AgentProfile) -> float:
    """Lognormal around the median; 4 % of runs get a 3-20x heavy-tail factor."""
    value = rng.lognormvariate(math.log(profile.median_ms), profile.sigma)
    if rng.random() < 0.04:
        value *= rng.uniform(3.0, 20.0)
    return round(value, 3)


def pick_error(rng: random.Random) -> str:
    names = [name for name, _ in ERROR_TYPES]
    return rng.choices(names, weights=[w for _, w in ERROR_TYPES])[0]


def _tokens(rng: random.Random, profile: AgentProfile) -> dict[str, int]:
    input_tokens = max(1, int(rng.lognormvariate(math.log(profile.input_median), 0.6)))
    output_tokens = max(1, int(rng.lognormvariate(math.log(profile.output_median), 0.7)))
    counts = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    # A cache hit serves most of the prompt; a miss sometimes writes it for later runs.
    if rng.random() < profile.cache_share:
        counts["cache_read_tokens"] = int(input_tokens * rng.uniform(0.5, 0.9))
    elif rng.random() < 0.3:
        counts["cache_write_tokens"] = int(input_tokens * rng.uniform(0.3, 0.8))
    return counts


def make_event(
    rng: random.Random,
    agent: Agent,
    population: Population,
    now: datetime,
    project: str = "default",
    late_share: float = 0.01,
) -> dict[str, Any]:
    """One run event (wire format v1 as a dict) for a run of ``agent`` that ends ``now``.

    A ``late_share`` of events started 1-3 hours ago (a publisher that buffered them).
    """
    profile = agent.profile
    duration = latency_ms(rng, profile)
    ended = now
    if rng.random() < late_share:
        ended = now - timedelta(minutes=rng.uniform(60, 180))
    started = ended - timedelta(milliseconds=duration)
    user, session = population.pick(rng)
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "project": project,
        "agent": agent.name,
        "model": rng.choice(profile.models),
        "started_at": started.isoformat(),
        "duration_ms": duration,
        "user_id": user,
        "session_id": session,
        "trace_id": f"{rng.getrandbits(64):016x}",
        "time_to_first_token_ms": round(duration * rng.uniform(0.05, 0.3), 3),
        "tags": {"env": "demo", "region": rng.choice(("eu-west-1", "us-east-1"))},
    }
    if rng.random() < profile.error_rate:
        error = pick_error(rng)
        event.update(status="error", error_type=error, error_message=ERROR_MESSAGES[error])
        if error in ("RateLimitError", "ContextLengthExceeded"):
            return event  # rejected before the model produced anything: no tokens
    event.update(_tokens(rng, profile))
    if rng.random() < 0.1:
        # Some publishers know their negotiated price and send the cost themselves.
        event["cost_usd"] = round(event["input_tokens"] * 1e-6 + event["output_tokens"] * 4e-6, 6)
    return event


Publish = Callable[[dict[str, Any]], Awaitable[object]]


@dataclass
class FleetStats:
    """What the fleet published, by agent and status."""

    published: int = 0
    failed: int = 0
    by_agent: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def count(self, event: dict[str, Any]) -> None:
        self.published += 1
        self.by_agent[event["agent"]] += 1
        if event.get("status") == "error":
            self.errors[event["error_type"]] += 1


async def run_fleet(
    publish: Publish,
    stop: asyncio.Event,
    *,
    agents: int = 6,
    rate: float = 20.0,
    project: str = "default",
    seed: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stats: FleetStats | None = None,
) -> FleetStats:
    """Publish events at ``rate`` per second (Poisson arrivals) until ``stop`` is set."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    rng = random.Random(seed)
    fleet = build_fleet(agents)
    population = Population()
    stats = stats if stats is not None else FleetStats()
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not stop.is_set():
        event = make_event(rng, rng.choice(fleet), population, clock(), project)
        try:
            accepted = await publish(event)
        except Exception:  # a demo fleet outlives a Redis restart; the count shows it
            accepted = False
        if accepted is False:  # the Publisher refused it (buffer full or closed)
            stats.failed += 1
        else:
            stats.count(event)
        # Pace on an absolute schedule, so slow publishes do not lower the rate.
        due += rng.expovariate(rate)
        delay = due - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    return stats


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (the one shutdown path), where the OS allows."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def simulate_until_stopped(
    settings: Settings,
    *,
    agents: int,
    rate: float,
    duration: float | None,
    project: str = "default",
    seed: int | None = None,
    stop: asyncio.Event | None = None,
    stats: FleetStats | None = None,
) -> FleetStats:
    """Run the fleet through a ``Publisher`` until a signal, ``stop`` or ``duration``.

    The publisher is closed (its buffer flushed) before returning.
    """
    from runtally.sdk.publisher import Publisher  # the SDK; imported here to keep this light

    stop = stop if stop is not None else asyncio.Event()
    install_stop_signals(stop)
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    publisher = Publisher.from_settings(settings)
    try:
        return await run_fleet(
            publisher.publish,
            stop,
            agents=agents,
            rate=rate,
            project=project,
            seed=seed,
            stats=stats,
        )
    finally:
        await publisher.aclose()
