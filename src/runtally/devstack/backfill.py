"""``runtally dev --demo`` history: days of past runs published through the normal path.

Before the live fleet starts, the fleet's agents publish runs spread over the last
``--history-days`` days (publisher → stream → ingest, exactly like live runs), so the 7 d
and 30 d views have data at once and the scheduler's rollups of past hours are visible.
Traffic follows a daily curve. The volume is bounded (``BUDGET`` runs in all, at most the
live rate per hour) so publishing and storing take seconds and start-up stays under a
minute.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Protocol

from rich.console import Console

from runtally import constants
from runtally.config import Settings
from runtally.devstack import report
from runtally.devstack.drain import backlog
from runtally.devstack.options import DevOptions
from runtally.devstack.simulate import Population, build_fleet, describe_run, latency_ms
from runtally.grid import HOUR
from runtally.stream import Stream

BUDGET = 100_000  # most runs in one backfill, whatever the number of days
DAY_BUDGET = 15_000  # most runs per day of history
FLUSH_EVERY = 5_000  # events published between flushes: the buffer never nears full
STORE_TIMEOUT_S = 45.0  # longest wait for ingest to store the history before going on


@dataclass(frozen=True)
class Slice:
    """Runs to publish with ``started_at`` in ``[start, end)`` (one hour or less)."""

    start: datetime
    end: datetime
    runs: int


@dataclass
class Backfill:
    """What a backfill published: ``published`` runs started in ``[start, end)``."""

    start: datetime
    end: datetime
    published: int = 0
    stored: bool = False


def daily_shape(hour: int) -> float:
    """Relative traffic at ``hour`` of the day (UTC): 1.0 at 14:00, 0.25 through the night."""
    return 0.25 + 0.75 * max(0.0, math.sin(math.pi * (hour - 6) / 16))


MEAN_SHAPE = sum(daily_shape(hour) for hour in range(24)) / 24


def plan(end: datetime, days: int, rate: float, budget: int = BUDGET) -> list[Slice]:
    """Hour slices covering ``[end - days, end)`` with their run counts.

    The mean is ``min(rate * 3600, DAY_BUDGET / 24, budget / hours)`` runs per hour,
    shaped by ``daily_shape``; a slice cut by a range edge gets its share of its hour.
    """
    start = end - timedelta(days=days)
    per_hour = min(rate * 3600, DAY_BUDGET / 24, budget / (days * 24)) / MEAN_SHAPE
    first = start.replace(minute=0, second=0, microsecond=0) + HOUR
    inner = [first + n * HOUR for n in range(days * 24) if first + n * HOUR < end]
    return [
        Slice(a, b, round(per_hour * daily_shape(a.hour) * ((b - a) / HOUR)))
        for a, b in pairwise([start, *inner, end])
    ]


def history_events(
    slices: list[Slice], agents: int, project: str, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """The runs of ``slices``: fleet agents, ``started_at`` uniform within each slice."""
    fleet = build_fleet(agents)
    population = Population()
    for piece in slices:
        span_us = (piece.end - piece.start) // timedelta(microseconds=1)
        for _ in range(piece.runs):
            agent = rng.choice(fleet)
            started = piece.start + timedelta(microseconds=rng.randrange(span_us))
            duration = latency_ms(rng, agent.profile)
            yield describe_run(rng, agent, population, started, duration, project)


class Sink(Protocol):
    """What the backfill needs of a ``Publisher``."""

    async def publish(self, event: dict[str, Any]) -> bool: ...

    async def flush(self, timeout: float | None = None) -> bool: ...


Progress = Callable[[int], None]


async def publish_all(
    events: Iterator[dict[str, Any]], sink: Sink, stop: asyncio.Event, progress: Progress
) -> int:
    """Publish ``events`` until done or ``stop``; the number the publisher accepted.

    Flushes every ``FLUSH_EVERY`` events, so publishing goes at Redis's pace and the
    buffer never fills; ``progress`` gets the running count about every two seconds.
    """
    published = 0
    next_report = time.monotonic() + 2.0
    for n, event in enumerate(events, 1):
        published += await sink.publish(event)
        if n % FLUSH_EVERY == 0:
            await sink.flush()  # also lets a stop request arrive
            if stop.is_set():
                break
            if time.monotonic() >= next_report:
                next_report += 2.0
                progress(published)
    return published


async def wait_stored(
    stream: Stream, stop: asyncio.Event, timeout_s: float, progress: Progress
) -> bool:
    """Wait until ingest stored everything published (backlog 0); False on timeout/stop."""
    deadline = time.monotonic() + timeout_s
    next_report = time.monotonic() + 2.0
    while not stop.is_set() and time.monotonic() < deadline:
        left = await backlog(stream)
        if left == 0:
            return True
        if time.monotonic() >= next_report:
            next_report += 2.0
            progress(left)
        await asyncio.sleep(0.2)
    return False


async def run_backfill(
    settings: Settings,
    stream: Stream,
    options: DevOptions,
    stop: asyncio.Event,
    console: Console,
) -> Backfill:
    """Publish ``options.backfill_days`` of history and wait (bounded) until it is stored."""
    from runtally import Publisher  # the SDK's public surface, loaded only when used

    end = datetime.now(UTC).replace(microsecond=0)
    days = options.backfill_days
    slices = plan(end, days, options.rate)
    result = Backfill(end - timedelta(days=days), end)
    total = sum(piece.runs for piece in slices)
    report.print_history_start(console, days, total)
    events = history_events(slices, options.agents, constants.PROJECT, random.Random())
    publisher = Publisher.from_settings(settings)
    try:
        result.published = await publish_all(
            events, publisher, stop, lambda n: report.history_published(console, n, total)
        )
    finally:
        await publisher.aclose()
    result.stored = await wait_stored(
        stream, stop, STORE_TIMEOUT_S, lambda left: report.history_storing(console, left)
    )
    report.print_history_done(console, result.published, result.start, result.end, result.stored)
    return result
