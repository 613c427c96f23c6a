"""The 200 waits for the AOF fsync where Redis can confirm it (WAITAOF, Redis >= 7.2).

The Redis of the test machine predates WAITAOF, so its answers are played by a stand-in
pipeline here; the integration tests cover the path of a Redis without the command.
"""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtally.config import Settings
from runtally.otel.staging import Staging


class Pipe:
    """Records commands and answers ``execute`` with preset replies."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> None:
        self.commands.append(args)

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        assert raise_on_error is False  # a WAITAOF refusal must not hide the other replies
        return list(self.replies)


def staging() -> Staging:
    return Staging(fakeredis.FakeAsyncRedis(), Settings())


async def test_fsync_confirmed_answers_the_writes() -> None:
    stage = staging()
    pipe = Pipe([[3, 1], [1, 0]])
    assert await stage._execute(pipe) == [[3, 1]]  # type: ignore[arg-type]
    assert pipe.commands == [("WAITAOF", 1, 0, 1000)]


async def test_fsync_not_confirmed_in_time_is_not_acknowledged() -> None:
    with pytest.raises(RedisTimeoutError, match="not confirmed"):
        await staging()._execute(Pipe([[3, 1], [0, 0]]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "refusal",
    [
        ResponseError("unknown command 'WAITAOF'"),
        ResponseError("WAITAOF cannot be used when numlocal is set but appendonly is disabled."),
    ],
)
async def test_a_redis_that_cannot_confirm_is_not_asked_again(refusal: ResponseError) -> None:
    stage = staging()
    assert await stage._execute(Pipe([[3, 1], refusal])) == [[3, 1]]  # type: ignore[arg-type]
    later = Pipe([[1, 0]])
    assert await stage._execute(later) == [[1, 0]]  # type: ignore[arg-type]
    assert later.commands == []


async def test_a_failed_write_is_raised() -> None:
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await staging()._execute(Pipe([ResponseError("WRONGTYPE"), [1, 0]]))  # type: ignore[arg-type]
