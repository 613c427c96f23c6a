"""``rollup.side``: a spare connection only when one is free at once; the side task
awaited by the body, or cancelled and waited for when the body fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from runtally.constants import SPARE_CONNECTION_WAIT_S
from runtally.rollup.side import alongside, spare


class FakePool:
    """Hands out ``free`` connections; waits past any timeout when none is left."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.released = 0
        self.timeouts: list[float | None] = []

    def acquire(self, *, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        return self._acquire(timeout)

    @asynccontextmanager
    async def _acquire(self, timeout: float | None) -> AsyncIterator[Any]:
        if not self.free:
            await asyncio.sleep(0.2)
            raise TimeoutError
        self.free -= 1
        try:
            yield object()
        finally:
            self.free += 1
            self.released += 1


async def test_a_free_connection_is_lent_and_given_back() -> None:
    pool = FakePool(free=1)
    async with spare(pool) as side:  # type: ignore[arg-type]
        assert side is not None
        assert pool.free == 0
    assert (pool.free, pool.released) == (1, 1)
    assert pool.timeouts == [SPARE_CONNECTION_WAIT_S]


async def test_no_free_connection_means_none_not_a_wait() -> None:
    pool = FakePool(free=0)
    async with spare(pool) as side:  # type: ignore[arg-type]
        assert side is None
    assert pool.released == 0


async def test_without_a_side_connection_the_body_does_the_work() -> None:
    async with alongside(None, lambda conn: asyncio.sleep(0, result=conn)) as task:
        assert task is None


async def test_the_body_gets_the_work_done_on_the_side_connection() -> None:
    side: Any = object()
    async with alongside(side, lambda conn: asyncio.sleep(0.01, result=conn)) as task:
        assert task is not None
        assert await task is side


async def test_a_failing_body_cancels_the_side_work_and_waits_for_it() -> None:
    state: list[str] = []

    async def work(conn: Any) -> None:
        try:
            state.append("started")
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)  # the driver cancelling its query
            state.append("cancelled")
            raise

    async def body() -> None:
        async with alongside(object(), work):  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
            raise RuntimeError("body failed")

    with pytest.raises(RuntimeError, match="body"):
        await body()
    assert state == ["started", "cancelled"]


async def test_a_failing_side_work_fails_the_body_that_awaits_it() -> None:
    async def work(conn: Any) -> None:
        raise ValueError("side failed")

    async def body() -> None:
        async with alongside(object(), work) as task:  # type: ignore[arg-type]
            assert task is not None
            await task

    with pytest.raises(ValueError, match="side failed"):
        await body()
