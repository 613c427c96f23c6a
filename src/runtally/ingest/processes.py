"""``runtally ingest --processes N``: N consumer processes of the one group, supervised.

The parent only supervises; each child is ``runtally ingest --processes 1`` (one
``serve``) with its own consumer name ``<consumer>-<slot>`` (``consumer`` is host-pid of
the parent unless set), so names are unique among live children and a restarted child
takes its slot's name back (and, after ``claim_idle_ms``, its slot's pending entries).

* A child that dies is started again after a backoff (``runtally.backoff``, reset once a
  child has run ``STABLE_S``), and the death is logged with its exit code.
* One shutdown path: SIGINT or SIGTERM to the parent sets ``stop``; the parent sends
  SIGTERM to every child, each drains within ``shutdown_grace_s``; a child still running
  ``KILL_MARGIN_S`` later is killed. Exit 0 when every child stopped by itself.
* Children run in their own session, so a terminal's Ctrl-C reaches the parent only, and
  they get SIGTERM if the parent itself dies (Linux ``PR_SET_PDEATHSIG``).
* Children start with SIGTERM and SIGINT blocked; ``worker.install_signals`` unblocks them
  once the handlers are in place. A stop that arrives while a (re)started child is still
  importing is then held, not fatal: the child stops cleanly instead of dying by the
  signal's default action (seen under load: exit -15, so the parent exited 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from runtally.backoff import Backoff
from runtally.config import Settings
from runtally.ingest.worker import STOP_SIGNALS

log = logging.getLogger("runtally.ingest")

CHILD = [sys.executable, "-c", "from runtally.cli import main; main()", "ingest"]
STABLE_S = 30.0  # a child that ran this long resets its restart backoff
RESTART_MAX_S = 30.0
KILL_MARGIN_S = 5.0
POLL_S = 0.2
PR_SET_PDEATHSIG = 1


def child_setup() -> None:  # pragma: no cover - runs in the child before exec
    """Hold SIGTERM/SIGINT until the child's handlers exist (the mask survives exec), and
    ask Linux to SIGTERM this child when the parent dies (best effort elsewhere)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Slot:
    """One child position: its consumer name, its process, and when to restart it."""

    index: int
    consumer: str
    backoff: Backoff = field(default_factory=lambda: Backoff(RESTART_MAX_S, base_s=0.5))
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None

    def start(self, now: float) -> None:
        env = {**os.environ, "RUNTALLY_CONSUMER": self.consumer}
        self.process = subprocess.Popen(
            [*CHILD, "--processes", "1"],
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=child_setup if sys.platform == "linux" else None,
        )
        self.started_at, self.restart_at = now, None
        log.info("ingest child %d (%s) started, pid %d", self.index, self.consumer, self.pid)

    @property
    def pid(self) -> int:
        return -1 if self.process is None else self.process.pid

    def watch(self, now: float) -> None:
        """Restart a child that died, once its backoff delay has passed."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start(now)
            return
        code = None if self.process is None else self.process.poll()
        if code is None:
            return
        if now - self.started_at >= STABLE_S:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        self.restart_at = now + delay
        log.warning(
            "ingest child %d (pid %d) exited with %s; restarting in %.1fs",
            self.index, self.pid, code, delay,
        )  # fmt: skip

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def finish(self, deadline: float) -> int | None:
        """Wait for the child until ``deadline`` (monotonic), then kill it; its exit code."""
        if self.process is None or self.restart_at is not None:
            return 0  # not running: nothing to stop
        try:
            return self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("ingest child %d (pid %d) still running: killed", self.index, self.pid)
            self.process.kill()
            self.process.wait()
            return None


def slots_for(settings: Settings, processes: int) -> list[Slot]:
    return [Slot(i, f"{settings.consumer}-{i}") for i in range(processes)]


async def supervise(settings: Settings, processes: int, stop: asyncio.Event) -> int:
    """Run ``processes`` children until ``stop``; then stop them all. The exit code."""
    slots = slots_for(settings, processes)
    now = time.monotonic()
    for slot in slots:
        slot.start(now)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)
        if not stop.is_set():
            for slot in slots:
                slot.watch(time.monotonic())
    return await asyncio.to_thread(stop_children, slots, settings.shutdown_grace_s)


def stop_children(slots: list[Slot], grace_s: float) -> int:
    """SIGTERM every child, wait for them (grace plus a margin); 0 if all stopped cleanly."""
    log.info("stopping %d ingest children", len(slots))
    for slot in slots:
        slot.terminate()
    deadline = time.monotonic() + grace_s + KILL_MARGIN_S
    codes = [slot.finish(deadline) for slot in slots]
    if any(code != 0 for code in codes):
        log.warning("ingest children exit codes: %s", codes)
        return 1
    log.info("ingest children stopped")
    return 0
