"""The one shutdown path: a signal requests the stop, waiters see it, work gets a grace."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from runtally.devstack.shutdown import Shutdown, finish_within
from runtally.ingest.processes import child_setup


async def test_a_signal_sets_every_waiter_and_the_first_reason_stays() -> None:
    before = signal.getsignal(signal.SIGINT)
    shutdown = Shutdown()
    shutdown.install()
    try:
        first, second = shutdown.event(), shutdown.event()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(first.wait(), 2)
        await asyncio.wait_for(second.wait(), 2)
        os.kill(os.getpid(), signal.SIGINT)  # a second signal: no KeyboardInterrupt
        await asyncio.sleep(0.05)
        assert shutdown.requested
        assert shutdown.reason == "SIGTERM"
    finally:
        shutdown.uninstall()
    assert signal.getsignal(signal.SIGINT) == before  # put back


async def test_an_event_made_after_the_request_is_already_set() -> None:
    shutdown = Shutdown()
    shutdown.request("--duration")
    assert shutdown.event().is_set()
    assert shutdown.wait(0)


def test_synchronous_code_waits_until_the_request() -> None:
    shutdown = Shutdown()
    assert not shutdown.wait(0.01)
    shutdown.request("test")
    assert shutdown.wait(5)


async def test_finish_within_lets_work_finish_or_cancels_it() -> None:
    quick = asyncio.create_task(asyncio.sleep(0.01, "done"))
    assert await finish_within(quick, 2) is True
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    slow = asyncio.create_task(stuck())
    assert await finish_within(slow, 0.05) is False
    assert cancelled.is_set()
    assert slow.cancelled()


async def test_finish_within_passes_the_work_s_error_on() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await finish_within(asyncio.create_task(fails()), 1)


STARTING = """
import asyncio, os, signal, time
from runtally.ingest.worker import install_signals

async def main():
    os.kill(os.getpid(), signal.SIGTERM)  # the supervisor stops us while we start up
    time.sleep(0.2)
    stop = asyncio.Event()
    install_signals(stop)
    await asyncio.wait_for(stop.wait(), 10)

asyncio.run(main())
"""


@pytest.mark.parametrize(("setup", "code"), [(True, 0), (False, -signal.SIGTERM)])
def test_a_stop_during_a_childs_start_up_is_held_until_its_handlers_exist(
    setup: bool, code: int
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", STARTING], preexec_fn=child_setup if setup else None,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == code, child.stderr
