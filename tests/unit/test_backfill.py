"""The demo history: hour slices that tile the range, a daily curve, bounded volume, and
events that stay inside their slice and are valid wire format."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from runtally.devstack.backfill import (
    BUDGET,
    DAY_BUDGET,
    FLUSH_EVERY,
    daily_shape,
    history_events,
    plan,
    publish_all,
)
from runtally.events import parse_event

END = datetime(2026, 3, 10, 14, 37, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("end", "days", "rate", "total"),
    [
        (END, 1, 20.0, DAY_BUDGET),  # one day: the day budget
        (END, 7, 20.0, 7 * DAY_BUDGET),  # a week: 105,000 > BUDGET → BUDGET
        (END, 29, 20.0, BUDGET),
        (END, 2, 0.1, 2 * 24 * 360),  # a slow fleet: its own rate per hour
        (END.replace(minute=0, second=0), 3, 20.0, 3 * DAY_BUDGET),  # aligned end
    ],
)
def test_plan_tiles_the_range_and_bounds_the_volume(
    end: datetime, days: int, rate: float, total: int
) -> None:
    slices = plan(end, days, rate)
    assert slices[0].start == end - timedelta(days=days)
    assert slices[-1].end == end
    for a, b in pairwise(slices):
        assert a.end == b.start
    for piece in slices:
        assert timedelta(0) < piece.end - piece.start <= timedelta(hours=1)
        assert piece.start.hour == (piece.end - timedelta(microseconds=1)).hour
    expected = min(total, BUDGET)
    # Rounding each slice: within one run per slice of the target.
    assert abs(sum(piece.runs for piece in slices) - expected) <= len(slices)


def test_the_daily_curve_is_busy_by_day_and_quiet_at_night() -> None:
    assert daily_shape(14) == pytest.approx(1.0)
    assert daily_shape(3) == pytest.approx(0.25)
    assert daily_shape(10) > daily_shape(7) > daily_shape(3)
    slices = plan(END, 7, 20.0)
    by_hour = Counter[int]()
    for piece in slices[1:-1]:  # whole hours only
        by_hour[piece.start.hour] += piece.runs
    assert by_hour[14] > 3 * by_hour[3]


def test_history_events_stay_in_their_slice_and_are_valid() -> None:
    slices = plan(END, 1, 20.0)
    events = list(history_events(slices, 6, "demo", random.Random(5)))
    assert len(events) == sum(piece.runs for piece in slices)
    parsed = [parse_event(json.dumps(e).encode()) for e in events]
    assert len({e.event_id for e in parsed}) == len(events)
    bounds = iter(slices)
    piece = next(bounds)
    for event in parsed:
        while event.started_at >= piece.end:
            piece = next(bounds)
        assert piece.start <= event.started_at < piece.end
    assert {e.agent for e in parsed} == {
        "support-bot", "code-reviewer", "research-agent", "sql-analyst", "triage", "summarizer"
    }  # fmt: skip


class ListSink:
    """A publisher that keeps events, refuses every tenth and counts flushes."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.flushes = 0

    async def publish(self, event: dict[str, Any]) -> bool:
        self.events.append(event)
        return len(self.events) % 10 != 0

    async def flush(self, timeout: float | None = None) -> bool:
        self.flushes += 1
        return True


async def test_publish_all_counts_what_was_accepted_and_flushes_as_it_goes() -> None:
    sink = ListSink()
    events = ({"n": n} for n in range(3 * FLUSH_EVERY + 7))
    published = await publish_all(events, sink, asyncio.Event(), lambda n: None)
    assert len(sink.events) == 3 * FLUSH_EVERY + 7
    assert published == len(sink.events) - len(sink.events) // 10
    assert sink.flushes == 3


async def test_publish_all_stops_at_the_next_flush_once_stop_is_set() -> None:
    sink = ListSink()
    stop = asyncio.Event()
    stop.set()
    await publish_all(({"n": n} for n in range(10 * FLUSH_EVERY)), sink, stop, lambda n: None)
    assert len(sink.events) == FLUSH_EVERY
