"""``runtally dead list`` / ``runtally dead replay`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from runtally.config import Settings
from runtally.stream import DeadLetter, EventStream

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-c", "from runtally.cli import main; main()"]


def runtally(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"RUNTALLY_REDIS_URL": settings.redis_url, "PATH": "/usr/bin:/bin"}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


async def test_list_and_replay(settings: Settings, redis_client: aioredis.Redis) -> None:
    stream = EventStream(redis_client, settings)
    await stream.ensure_group()
    for data in (b'{"late": 1}', b'{"broken": 2}', b'{"late": 3}'):
        await redis_client.xadd(settings.stream, {"data": data})
    entries = await stream.read(10, None)
    reasons = ["started_at is older than raw retention", "invalid event: x", "older than raw"]
    letters = [DeadLetter(e, r) for e, r in zip(entries, reasons, strict=True)]
    await stream.dead_letter(letters, datetime.now(UTC))

    listed = runtally(settings, "dead", "list", "--json", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["data"] for r in rows] == ['{"late": 1}', '{"broken": 2}']
    assert rows[0]["reason"] == reasons[0]
    assert rows[0]["source_id"] == entries[0].id

    replayed = runtally(settings, "dead", "replay", "--all", "--reason-contains", "RETENTION")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 entries" in replayed.stdout
    tail = await redis_client.xrevrange(settings.stream, count=1)
    assert tail[0][1] == {b"data": b'{"late": 1}'}
    left = [f[b"data"] for _, f in await redis_client.xrange(settings.dead_stream)]
    assert left == [b'{"broken": 2}', b'{"late": 3}']


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dead", "replay"], "give dead entry IDs or --all"),
        (["dead", "replay", "1-1", "--all"], "give dead entry IDs or --all"),
        (["dead", "replay", "999-9"], "no dead entry 999-9"),
    ],
)
async def test_errors_are_one_line(settings: Settings, args: list[str], message: str) -> None:
    result = runtally(settings, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unreachable_redis_is_one_line() -> None:
    result = runtally(Settings(redis_url="redis://127.0.0.1:1/0"), "dead", "list")
    assert result.returncode == 1
    assert result.stderr.startswith("runtally: error: cannot reach Redis at redis://127.0.0.1:1/0")
