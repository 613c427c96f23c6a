"""`runtally simulate` stops on Ctrl-C or SIGTERM: publisher flushed, count printed, exit 0."""

from __future__ import annotations

import re
import signal
import subprocess

import pytest
import redis

from runtally.config import Settings
from runtally.devstack.children import CLI, child_env
from tests.e2e.helpers import wait_for

pytestmark = pytest.mark.integration


def stream_length(settings: Settings) -> int:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        return int(client.xlen(settings.stream))
    finally:
        client.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_fleet_and_everything_published_is_in_the_stream(
    settings: Settings, sig: signal.Signals
) -> None:
    process = subprocess.Popen(
        [*CLI, "simulate", "--agents", "3", "--rate", "100"],
        env=child_env({"RUNTALLY_REDIS_URL": settings.redis_url}),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: stream_length(settings) > 20, 30, "published events")
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    match = re.search(r"published (\d+) events \((\d+) failed", stdout)
    assert match, stdout
    assert int(match.group(1)) == stream_length(settings)
