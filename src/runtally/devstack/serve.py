"""The running phase of ``runtally dev``: history, the live fleet, progress, then drain.

Runs until the stop is requested (a signal, ``--duration``, or a child that exited by
itself), then stops in order: the fleet (flushes its publisher within a grace period,
then is cancelled) → ingest drains the stream (bounded wait). Processes and servers are
stopped afterwards by ``DevStack.stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis

from runtally.devstack import report
from runtally.devstack.access import fetch_summary
from runtally.devstack.backfill import run_backfill
from runtally.devstack.drain import drain
from runtally.devstack.fleet import FleetStats, simulate_until_stopped
from runtally.devstack.shutdown import finish_within
from runtally.devstack.stack import DevStack
from runtally.stream import EventStream, Stream

DRAIN_TIMEOUT_S = 15.0
FLEET_GRACE_S = 10.0
PROGRESS_EVERY_S = 10.0


async def serve(stack: DevStack) -> None:
    """Run until the stop is requested; then stop the fleet and drain the stream."""
    stop = stack.shutdown.event()
    if stack.options.duration is not None:
        loop = asyncio.get_running_loop()
        loop.call_later(stack.options.duration, stack.shutdown.request, "--duration")
    client = aioredis.Redis.from_url(stack.settings.redis_url)
    try:
        stream = EventStream(client, stack.settings)
        await _run(stack, stream, stop)
        timeout = 0 if stack.outcome.crashed else DRAIN_TIMEOUT_S
        stack.outcome.undrained = await drain(stream, timeout)
        report.print_drained(stack.console, stack.outcome.undrained)
    finally:
        await client.aclose()
    stack.outcome.summary = await asyncio.to_thread(fetch_summary, stack.api_url, stack.key)


async def _run(stack: DevStack, stream: Stream, stop: asyncio.Event) -> None:
    """History, then the fleet and the watch until ``stop``; the fleet stops first."""
    options = stack.options
    if options.backfill_days > 0:
        await run_backfill(stack.settings, stream, options, stop, stack.console)
    fleet_stop = asyncio.Event()
    fleet = _start_fleet(stack, fleet_stop) if options.demo and not stop.is_set() else None
    report.print_running(stack.console, options.duration)
    await _watch(stack, stop)
    report.print_stopping(stack.console, stack.shutdown.reason)
    if fleet is not None:
        fleet_stop.set()
        try:
            await finish_within(fleet, FLEET_GRACE_S)
        except Exception as exc:  # a fleet that failed must not stop the shutdown
            stack.console.print(f"[yellow]demo fleet: {exc}[/]", markup=True)
        report.print_step(stack.console, "stopped the demo fleet")


def _start_fleet(stack: DevStack, stop: asyncio.Event) -> asyncio.Task[FleetStats]:
    options = stack.options
    stack.outcome.fleet = FleetStats()
    report.print_fleet(stack.console, options.agents, options.rate)
    return asyncio.create_task(
        simulate_until_stopped(
            stack.settings, stop, agents=options.agents, rate=options.rate,
            stats=stack.outcome.fleet,
        )
    )  # fmt: skip


async def _watch(stack: DevStack, stop: asyncio.Event) -> None:
    """Until ``stop``: turn a child that exited into a stop request, print progress."""
    next_progress = time.monotonic() + PROGRESS_EVERY_S / 2
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        child = stack.crashed()
        if child is not None and not stop.is_set():
            stack.outcome.crashed = child.name
            report.print_crash(stack.console, child)
            stack.shutdown.request(f"{child.name} exited")
            return
        if time.monotonic() >= next_progress and not stop.is_set():
            next_progress += PROGRESS_EVERY_S
            summary = await asyncio.to_thread(fetch_summary, stack.api_url, stack.key)
            report.print_progress(stack.console, summary, stack.outcome.fleet)
