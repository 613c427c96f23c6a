"""Alerts through real processes: two ``runtally scheduler`` workers evaluating every
second notify a transition once; ``runtally alerts list|create|delete|check``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtally.alerts.payload import verify
from runtally.config import Settings
from tests.integration.alerts.conftest import deliveries, states
from tests.integration.alerts.events import add_runs
from tests.integration.rollup.kit import cli, cli_env
from tests.receiver import Receiver

pytestmark = pytest.mark.integration


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli(*args), env=cli_env(settings, **env), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


async def arun(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, settings, *args, **env)


def create_args(url: str, *extra: str) -> list[str]:
    return [
        "alerts", "create", "--project", "demo", "--name", "busy", "--measure", "runs",
        "--op", ">", "--threshold", "5", "--window", "10m", "--webhook-url", url, *extra,
    ]  # fmt: skip


async def test_two_schedulers_notify_a_transition_once(
    pool: Any, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    created = await arun(settings, *create_args(receiver.url))
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    rule_id = int(created.stdout.split()[3])
    await add_runs(pool, 10, datetime.now(UTC) - timedelta(minutes=3))
    env = cli_env(settings, RUNTALLY_ALERTS_INTERVAL_S="1", RUNTALLY_ROLLUP_INTERVAL_S="1")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = []
    for log in logs:
        with log.open("wb") as sink:
            procs.append(await asyncio.create_subprocess_exec(
                *cli("scheduler"), env=env, stdout=sink, stderr=sink))  # fmt: skip
    try:
        seen: set[datetime] = set()
        deadline = time.monotonic() + 30
        while len(seen) < 5:  # five evaluations, each of its own interval
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            found = await states(pool, rule_id)
            if "" in found:
                seen.add(found[""].evaluated_at)
            await asyncio.sleep(0.3)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(proc.wait(), 20) for proc in procs]
    assert codes == [0, 0], [log.read_text() for log in logs]
    (got,) = receiver.wait_for(1)
    assert receiver.received() == [got]
    assert verify(secret, got.body, got.headers["X-Runtally-Signature"])
    assert (got.json()["state"], got.json()["runs"]) == ("alert", 10)
    assert [d["status"] for d in await deliveries(pool, rule_id)] == ["delivered"]


async def test_alerts_cli(pool: Any, settings: Settings, receiver: Receiver) -> None:
    created = await arun(settings, *create_args(receiver.url, "--group-by", "agent",
                                               "--warn-threshold", "2"))  # fmt: skip
    assert created.returncode == 0, created.stderr
    rule_id = created.stdout.split()[3]
    await add_runs(pool, 8, datetime.now(UTC) - timedelta(minutes=2), agent="planner")
    checked = await arun(settings, "alerts", "check")
    assert checked.returncode == 0, checked.stderr
    assert "evaluated 1 rules (1 groups, 0 errors); queued 1 notifications; delivered 1" in (
        checked.stdout
    )
    # Again, with an hour-long interval: the rule was evaluated in this hour already (unless
    # the hour just turned, when it is evaluated again); either way nothing changed.
    again = await arun(settings, "alerts", "check", RUNTALLY_ALERTS_INTERVAL_S="3600")
    assert again.returncode == 0, again.stderr
    assert "queued 0 notifications; delivered 0" in again.stdout
    assert len(receiver.received()) == 1
    listed = await arun(settings, "alerts", "list", "--project", "demo")
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert row == [rule_id, "demo", "busy", "runs > 5", "10m", "agent", "planner=alert(8)"]
    assert (await arun(settings, "alerts", "delete", rule_id)).returncode == 0
    assert (await arun(settings, "alerts", "list")).stdout.splitlines()[1:] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("alerts", "delete", "999"), "no alert rule 999"),
        (tuple(create_args("http://127.0.0.1:1/x", "--window", "1m")), "window must be between"),
        (tuple(create_args("nowhere")), "webhook_url"),
        (tuple(create_args("http://x", "--group-by", "tag:team")), "tags"),
        (tuple(create_args("http://x", "--measure", "vibes")), "measure"),
        (("alerts", "create", "--project", "bad project!", *create_args("http://x")[4:]),
         "invalid project"),
    ],
)  # fmt: skip
async def test_alerts_cli_errors_are_one_line(
    settings: Settings, args: tuple[str, ...], message: str
) -> None:
    result = await arun(settings, *args)
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("runtally: error: ")
    assert message in line


async def test_check_without_postgres_is_one_line(settings: Settings) -> None:
    result = await arun(settings, "alerts", "check",
                        RUNTALLY_DATABASE_URL="postgresql://x@127.0.0.1:1/x")  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("runtally: error: cannot connect to Postgres")
