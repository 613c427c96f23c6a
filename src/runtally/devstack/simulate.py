"""A synthetic agent fleet: realistic run events for demos, load and dashboards.

``make_event`` is pure (randomness and clock are passed in), so its distributions are
testable; ``runtally.devstack.fleet`` paces them and hands them to a publisher.

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

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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


def run_times(
    rng: random.Random, profile: AgentProfile, now: datetime, late_share: float
) -> tuple[datetime, float]:
    """(started_at, duration in ms) of a run that ends ``now``, or 1-3 hours before it.

    A ``late_share`` of runs ended 1-3 hours ago (a publisher that buffered them).
    """
    duration = latency_ms(rng, profile)
    ended = now
    if rng.random() < late_share:
        ended = now - timedelta(minutes=rng.uniform(60, 180))
    return ended - timedelta(milliseconds=duration), duration


def _outcome(rng: random.Random, profile: AgentProfile) -> dict[str, Any]:
    """Status fields and token counts; a run rejected before the model ran has no tokens."""
    fields: dict[str, Any] = {}
    if rng.random() < profile.error_rate:
        error = pick_error(rng)
        fields.update(status="error", error_type=error, error_message=ERROR_MESSAGES[error])
        if error in ("RateLimitError", "ContextLengthExceeded"):
            return fields
    fields.update(_tokens(rng, profile))
    if rng.random() < 0.1:
        # Some publishers know their negotiated price and send the cost themselves.
        fields["cost_usd"] = round(
            fields["input_tokens"] * 1e-6 + fields["output_tokens"] * 4e-6, 6
        )
    return fields


def describe_run(
    rng: random.Random,
    agent: Agent,
    population: Population,
    started: datetime,
    duration: float,
    project: str = "default",
) -> dict[str, Any]:
    """One run event (wire format v1 as a dict) of ``agent`` that started at ``started``."""
    user, session = population.pick(rng)
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "project": project,
        "agent": agent.name,
        "model": rng.choice(agent.profile.models),
        "started_at": started.isoformat(),
        "duration_ms": duration,
        "user_id": user,
        "session_id": session,
        "trace_id": f"{rng.getrandbits(64):016x}",
        "time_to_first_token_ms": round(duration * rng.uniform(0.05, 0.3), 3),
        "tags": {"env": "demo", "region": rng.choice(("eu-west-1", "us-east-1"))},
        **_outcome(rng, agent.profile),
    }


def make_event(
    rng: random.Random,
    agent: Agent,
    population: Population,
    now: datetime,
    project: str = "default",
    late_share: float = 0.01,
) -> dict[str, Any]:
    """One run event of ``agent`` that ends ``now`` (a ``late_share`` ended 1-3 h ago)."""
    started, duration = run_times(rng, agent.profile, now, late_share)
    return describe_run(rng, agent, population, started, duration, project)
