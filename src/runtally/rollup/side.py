"""A second connection for an hour's rollup: one aggregate runs on it alongside the rest.

An hour's rollup reads its raw rows three times (quarter hours, tags, top-K), each a
statement of its own. On a spare connection the tag aggregate, the longest, runs while
the hour's own connection does the others, so two cores work on one hour. Reading on
another connection is as exact as reading on the hour's: every statement sees the
commits made before it started, all after the marker's ``seq`` was read
(``rollup.hourly``), and the hour's transaction holds the partition lock the whole
time. Writes stay in the hour's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from runtally.constants import SPARE_CONNECTION_WAIT_S
from runtally.store.protocols import Connection, Pool

T = TypeVar("T")


@asynccontextmanager
async def spare(pool: Pool) -> AsyncIterator[Connection | None]:
    """A second connection of ``pool`` if it gives one within ``SPARE_CONNECTION_WAIT_S``
    (time to open one), else ``None``.

    Never waits longer: two rollups each holding one connection and waiting for a
    second would wait on each other until the pool's other users gave one back."""
    acquiring = pool.acquire(timeout=SPARE_CONNECTION_WAIT_S)
    try:
        conn = await acquiring.__aenter__()
    except TimeoutError:
        yield None
        return
    try:
        yield conn
    finally:
        await acquiring.__aexit__(None, None, None)


@asynccontextmanager
async def alongside(
    side: Connection | None, work: Callable[[Connection], Awaitable[T]]
) -> AsyncIterator[Awaitable[T] | None]:
    """``work(side)`` running as a task while the body runs (``None`` without ``side``:
    the body does the work itself). The body awaits it; if the body fails first, the
    task is cancelled and waited for, so ``side`` is idle when this exits."""
    if side is None:
        yield None
        return
    task = asyncio.ensure_future(work(side))
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
