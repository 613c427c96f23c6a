"""Send queued notifications: signed POSTs, concurrent, with timeouts and back-off.

A receiver that is down or slow costs at most one timeout per attempt, and attempts run
concurrently, so it never holds up other rules' deliveries (nor evaluation, which has
already committed its notifications to the outbox). A failed attempt is retried after
``base * 2^(attempt-1)`` seconds (capped) until ``alerts_delivery_attempts``, then the
delivery is marked ``failed`` with its last error; the log keeps every outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from runtally import constants
from runtally.alerts import outbox
from runtally.alerts.outbox import DELIVERED, FAILED, PENDING, Claimed
from runtally.alerts.payload import sign
from runtally.config import Settings
from runtally.store.protocols import Pool

MIN_WAIT_S = 0.01
Clock = Callable[[], datetime]


class Poster(Protocol):
    """POSTs ``body`` to ``url``; returns the HTTP status, raises on transport errors."""

    async def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...


class HttpPoster:
    """The real ``Poster``: one shared httpx client with a per-request timeout."""

    def __init__(self, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        response = await self._client.post(url, content=body, headers=headers)
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()


def backoff_s(attempts: int, base_s: float, cap_s: float = constants.ALERTS_RETRY_MAX_S) -> float:
    """Delay after the ``attempts``-th failed attempt: base, 2·base, 4·base… at most cap."""
    return float(min(cap_s, base_s * 2 ** max(attempts - 1, 0)))


@dataclass
class Sent:
    """Outcomes of the attempts of one delivery pass."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        if outcome == DELIVERED:
            self.delivered += 1
        elif outcome == PENDING:
            self.retrying += 1
        else:
            self.failed += 1


def headers_for(item: Claimed) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "runtally-alerts",
        constants.SIGNATURE_HEADER: sign(item.secret, item.body.encode()),
    }


async def _attempt(item: Claimed, post: Poster, timeout_s: float) -> tuple[int | None, str]:
    try:
        status = await asyncio.wait_for(
            post(item.url, item.body.encode(), headers_for(item)), timeout_s
        )
    except Exception as exc:  # any transport failure is an attempt that failed, retried
        return None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    return status, f"HTTP {status}"


async def send_one(
    pool: Pool, item: Claimed, post: Poster, settings: Settings, clock: Clock
) -> str:
    """One attempt of one delivery, recorded; returns its outcome."""
    status, error = await _attempt(item, post, settings.alerts_delivery_timeout_s)
    now = clock()
    async with pool.acquire() as conn:
        if status is not None and 200 <= status < 300:
            await outbox.delivered(conn, item, status, now)
            return DELIVERED
        retry_at = None
        if item.attempts < settings.alerts_delivery_attempts:
            delay = backoff_s(item.attempts, settings.alerts_retry_base_s)
            retry_at = now + timedelta(seconds=delay)
        await outbox.retry_or_fail(conn, item, status, error, retry_at)
    return PENDING if retry_at is not None else FAILED


async def send_due(pool: Pool, settings: Settings, post: Poster, clock: Clock) -> list[str]:
    """Claim the deliveries due now and attempt them all concurrently."""
    lease = timedelta(seconds=settings.alerts_delivery_timeout_s * 2 + 5)
    async with pool.acquire() as conn:
        items = await outbox.claim(conn, clock(), lease, constants.ALERTS_DELIVERY_BATCH)
    return list(
        await asyncio.gather(*(send_one(pool, item, post, settings, clock) for item in items))
    )


async def _wait_for_next(pool: Pool, clock: Clock, deadline: float) -> bool:
    """Sleep until the next pending delivery is due, if that is before ``deadline`` (on
    the event loop's monotonic clock, so a frozen or jumping ``clock`` cannot hold us)."""
    async with pool.acquire() as conn:
        due = await outbox.next_due(conn)
    if due is None:
        return False
    loop = asyncio.get_running_loop()
    wait = max((due - clock()).total_seconds(), MIN_WAIT_S)
    if loop.time() + wait > deadline:
        return False
    await asyncio.sleep(wait)
    return True


async def deliver(
    pool: Pool, settings: Settings, post: Poster, clock: Clock, budget_s: float
) -> Sent:
    """Send every due delivery; keep retrying those that come due within ``budget_s``."""
    sent = Sent()
    deadline = asyncio.get_running_loop().time() + budget_s
    while True:
        outcomes = await send_due(pool, settings, post, clock)
        for outcome in outcomes:
            sent.add(outcome)
        if outcomes:
            continue
        if not await _wait_for_next(pool, clock, deadline):
            return sent
