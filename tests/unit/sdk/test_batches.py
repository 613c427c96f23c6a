"""The Lua batch sender: markers named from constants, exactly once when a reply is lost."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from runtally import constants
from runtally.sdk.batches import BatchSender, marker_key
from tests.unit.sdk.support import STREAM


class LosesReplies(fakeredis.FakeAsyncRedis):
    """Applies every script call; the replies of the first ``lose`` calls are lost."""

    lose = 0
    applied = 0

    async def evalsha(self, *args: Any) -> Any:  # type: ignore[override]
        result = await super().evalsha(*args)
        self.applied += 1
        if self.applied <= self.lose:
            raise ConnectionError("connection reset after the batch was applied")
        return result


async def markers(client: fakeredis.FakeAsyncRedis) -> list[bytes]:
    return sorted(await client.keys(f"{STREAM}{constants.BATCH_MARKER_INFIX}*"))


def test_marker_key_uses_the_constant_infix() -> None:
    assert marker_key("s", "ab") == f"s{constants.BATCH_MARKER_INFIX}ab" == "s:batch:ab"


@pytest.mark.parametrize("lost", [0, 1, 3])
async def test_a_batch_lands_once_however_often_its_reply_is_lost(lost: int) -> None:
    client = LosesReplies()
    client.lose = lost
    sender = BatchSender(client, STREAM, marker_ttl_s=60)
    for _ in range(lost):
        with pytest.raises(ConnectionError):
            await sender.send(["a", "b"])
    await sender.send(["a", "b"])  # the retry of the same batch
    assert client.applied == lost + 1
    entries = await client.xrange(STREAM)
    assert [fields[b"data"] for _, fields in entries] == [b"a", b"b"]
    (marker,) = await markers(client)
    assert 0 < await client.ttl(marker) <= 60


async def test_next_batch_deletes_the_confirmed_marker_and_tidy_the_last() -> None:
    client = fakeredis.FakeAsyncRedis()
    sender = BatchSender(client, STREAM, marker_ttl_s=60)
    await sender.send(["a"])
    first = await markers(client)
    await sender.send(["b"])
    second = await markers(client)
    assert len(first) == len(second) == 1
    assert first != second  # each batch its own marker; the previous one deleted
    await sender.tidy()
    assert await markers(client) == []
    assert await client.xlen(STREAM) == 2


async def test_refused_batch_leaves_no_marker() -> None:
    client = fakeredis.FakeAsyncRedis()
    await client.set(STREAM, "not a stream")  # WRONGTYPE at the first XADD
    sender = BatchSender(client, STREAM, marker_ttl_s=60)
    with pytest.raises(Exception, match="WRONGTYPE"):
        await sender.send(["a"])
    assert await markers(client) == []
