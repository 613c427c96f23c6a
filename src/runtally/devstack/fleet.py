"""The synthetic fleet at work: events paced at a Poisson rate, handed to a publisher.

``run_fleet`` hands each event of ``simulate.make_event`` to a publish callable (the
``Publisher`` in production, a list in tests) until a stop event is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtally.config import Settings
from runtally.devstack.simulate import Population, build_fleet, make_event

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


async def simulate_until_stopped(
    settings: Settings,
    stop: asyncio.Event,
    *,
    agents: int,
    rate: float,
    duration: float | None = None,
    project: str = "default",
    seed: int | None = None,
    stats: FleetStats | None = None,
) -> FleetStats:
    """Run the fleet through a ``Publisher`` until ``stop`` is set or ``duration`` passes.

    Installs no signal handler: the process's entry point owns signals and sets ``stop``
    (``runtally.devstack.shutdown``). The publisher is closed (its buffer flushed) before
    returning.
    """
    from runtally import Publisher  # the SDK's public surface, loaded only when used

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
