"""The one shutdown path of ``runtally dev`` and ``runtally simulate``.

The process's entry point installs SIGINT/SIGTERM handlers once (``Shutdown.install``);
a signal only *requests* the stop. Every component waits on the request (an asyncio event
from ``Shutdown.event`` or ``Shutdown.wait`` in synchronous start-up code) and never
installs handlers of its own, so no component can take the signal away from another.
What runs when the stop is requested gets a grace period to finish
(``finish_within``), then it is cancelled.

Handlers go through ``signal.signal`` rather than ``loop.add_signal_handler`` because the
request must also reach synchronous start-up code, before any event loop runs. An asyncio
waiter is woken with ``call_soon_threadsafe``, the signal-safe way into a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Shutdown:
    """A stop request that signals, ``--duration`` or a crash can make, once for all."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._previous: dict[int, object] = {}
        self.reason: str | None = None

    def install(self) -> None:
        """Make SIGINT and SIGTERM request the stop (main thread, once per process)."""
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        """Put back the handlers ``install`` replaced."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request(signal.Signals(signum).name)

    def request(self, reason: str) -> None:
        """Ask everything to stop; later requests change nothing (the first reason stays)."""
        if self.reason is None:
            self.reason = reason
        self._requested.set()
        for loop, event in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds (synchronous code); True once stop is requested."""
        return self._requested.wait(timeout)

    def event(self) -> asyncio.Event:
        """An event of the running loop, set when the stop is (or already was) requested."""
        event = asyncio.Event()
        self._waiters.append((asyncio.get_running_loop(), event))
        if self.requested:
            event.set()
        return event


async def finish_within(task: asyncio.Task[Any], grace_s: float) -> bool:
    """Wait up to ``grace_s`` seconds for ``task``, then cancel it.

    True when it finished by itself, False when it had to be cancelled; an exception the
    task raised propagates (the caller reports it and goes on stopping).
    """
    done, _ = await asyncio.wait({task}, timeout=grace_s)
    if done:
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False
