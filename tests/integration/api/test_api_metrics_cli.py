"""/metrics reads the real pipeline state; the keys CLI creates, lists and revokes keys."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from runtally.config import Settings
from runtally.store.dirty import mark_hours

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_reflect_redis_and_postgres(
    client: httpx.AsyncClient, settings: Settings, redis_client: aioredis.Redis, pool: Any
) -> None:
    for i in range(10):
        await redis_client.xadd(settings.stream, {"data": f"{i}"})
    await redis_client.xgroup_create(settings.stream, settings.group, id="0")
    await redis_client.xreadgroup(settings.group, "c1", {settings.stream: ">"}, count=4)
    await redis_client.xadd(settings.dead_stream, {"data": "x", "reason": "bad"})
    await redis_client.hset(settings.stats_key, mapping={"ingested": 4, "dead": 1})
    async with pool.acquire() as conn:
        hour = datetime(2026, 1, 1, 3, tzinfo=UTC)
        await mark_hours(conn, [("demo", hour), ("demo", hour + timedelta(hours=1))])
        await conn.execute("UPDATE rollup_dirty SET dirtied_at = now() - interval '90 seconds'")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    group = (("group", settings.group),)
    assert got[("runtally_stream_length", ())] == 10
    assert got[("runtally_dead_stream_length", ())] == 1
    assert got[("runtally_consumer_group_pending", group)] == 4
    assert got[("runtally_consumer_group_lag", group)] == 6
    assert got[("runtally_consumer_group_consumers", group)] == 1
    assert got[("runtally_events_ingested_total", ())] == 4
    assert got[("runtally_events_dead_total", ())] == 1
    assert got[("runtally_dirty_hours", ())] == 2
    assert 90 <= got[("runtally_oldest_dirty_hour_age_seconds", ())] < 3600


async def test_metrics_on_an_empty_pipeline(client: httpx.AsyncClient) -> None:
    got = samples((await client.get("/metrics")).text)
    assert got[("runtally_stream_length", ())] == 0
    assert got[("runtally_oldest_dirty_hour_age_seconds", ())] == 0
    assert got[("runtally_backend_up", (("backend", "postgres"),))] == 1
    assert not any(name.startswith("runtally_consumer_group") for name, _ in got)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "runtally"
    env = {**os.environ, "RUNTALLY_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


async def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, settings, *args)


async def test_keys_cli(client: httpx.AsyncClient, settings: Settings) -> None:
    created = await run_cli(settings, "keys", "create", "--project", "acme", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    summary = await client.get("/v1/summary", headers=headers)
    assert summary.status_code == 200
    assert summary.json()["project"] == "acme"

    listed = await run_cli(settings, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    key_id, prefix, project, name, _, revoked = row
    assert (prefix, project, name, revoked) == (key[: len(prefix)], "acme", "ci", "-")
    assert key not in listed.stdout

    revoked_run = await run_cli(settings, "keys", "revoke", prefix)
    assert revoked_run.returncode == 0, revoked_run.stderr
    assert (await client.get("/v1/summary", headers=headers)).status_code == 401
    listed = await run_cli(settings, "keys", "list", "--project", "acme")
    assert listed.stdout.splitlines()[1].split("\t")[-1] != "-"
    assert (await run_cli(settings, "keys", "revoke", key_id)).returncode == 0  # idempotent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("keys", "revoke", "rt_nothere"), "no API key"),
        (("keys", "revoke", "999"), "no API key"),
        (("keys", "create", "--project", "bad project!"), "invalid project"),
    ],
)
async def test_keys_cli_errors_are_one_line(
    settings: Settings, args: tuple[str, ...], message: str
) -> None:
    result = await run_cli(settings, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_api_command_serves_until_stopped(settings: Settings) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exe = Path(sys.executable).parent / "runtally"
    env = {
        **os.environ,
        "RUNTALLY_DATABASE_URL": settings.database_url,
        "RUNTALLY_REDIS_URL": settings.redis_url,
    }
    process = await asyncio.create_subprocess_exec(
        str(exe), "api", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = asyncio.get_running_loop().time() + 30
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            while True:
                try:
                    ready = await http.get("/readyz")
                    break
                except httpx.TransportError:
                    assert process.returncode is None, "api exited early"
                    assert asyncio.get_running_loop().time() < deadline, "api did not start"
                    await asyncio.sleep(0.1)
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 15)
    # uvicorn shuts down gracefully, then re-raises SIGTERM as its exit status.
    assert process.returncode in (0, -signal.SIGTERM)
    assert b"Finished server process" in err
