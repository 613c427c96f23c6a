"""`runtally simulate` publishes valid run events to the stream through the Publisher."""

from __future__ import annotations

import re
import subprocess

import pytest
import redis

from runtally.config import Settings
from runtally.devstack.children import CLI, child_env
from runtally.events import parse_event

pytestmark = pytest.mark.integration


def test_simulate_publishes_what_it_reports(settings: Settings) -> None:
    result = subprocess.run(
        [*CLI, "simulate", "--agents", "4", "--rate", "200", "--duration", "1.5", "--seed", "3",
         "--project", "sim"],
        env=child_env({"RUNTALLY_REDIS_URL": settings.redis_url}),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    match = re.search(r"published (\d+) events \((\d+) failed", result.stdout)
    assert match, result.stdout
    published, failed = int(match.group(1)), int(match.group(2))
    assert failed == 0
    assert published > 50
    client = redis.Redis.from_url(settings.redis_url)
    try:
        entries = client.xrange(settings.stream)
    finally:
        client.close()
    assert len(entries) == published
    events = [parse_event(fields[b"data"]) for _, fields in entries]
    assert {e.project for e in events} == {"sim"}
    assert len({e.agent for e in events}) == 4
    assert len({e.event_id for e in events}) == published


def test_simulate_refuses_a_bad_rate() -> None:
    result = subprocess.run(
        [*CLI, "simulate", "--rate", "0"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "rate" in result.stderr.lower()
