"""What the publisher tells people: drops (counted, summarised, raised if configured) and
buffer pressure, each on the ``runtally.publisher`` logger with its true cause."""

from __future__ import annotations

import logging

from runtally.sdk.buffer import Clock, DropTally
from runtally.sdk.options import PublisherOptions
from runtally.sdk.sender import SendLoop

log = logging.getLogger("runtally.publisher")


class PublishError(Exception):
    """Raised into agent code only when the publisher has ``raise_on_error=True``."""


class Notices:
    """Counts drops and says so; warns about pressure. Thread-safe."""

    __slots__ = ("_options", "_tally")

    def __init__(self, options: PublisherOptions, clock: Clock) -> None:
        self._options = options
        self._tally = DropTally(clock)

    @property
    def dropped(self) -> int:
        return self._tally.total

    def drop(self, count: int, reason: str, *, report_now: bool = False) -> bool:
        """Count and log dropped events (summarised); raise if configured. Returns False."""
        report = self._tally.add(count, report_now=report_now)
        if report:
            log.warning(
                "runtally publisher dropped %d event(s) (%s); %d dropped in total",
                report, reason, self._tally.total,
            )  # fmt: skip
        if self._options.raise_on_error:
            raise PublishError(f"event dropped: {reason}")
        return False

    def pressure(self, size: int, sender: SendLoop | None) -> None:
        """The buffer crossed the warning mark: say how full, why, and what comes next."""
        log.warning(
            "runtally publisher buffer %.0f%% full (%d of %d events): %s; at 100%% new "
            "events are %s",
            100 * size / self._options.max_buffer, size, self._options.max_buffer,
            pressure_cause(sender),
            "dropped" if self._options.on_full == "drop" else "blocked",
        )  # fmt: skip


def pressure_cause(sender: SendLoop | None) -> str:
    """Why the buffer fills: no sender yet, Redis failing, or simply more events than
    Redis is given in the time (a producer faster than Redis, or a slow Redis)."""
    if sender is None:
        return "no event loop runs the sender yet"
    if sender.failures:
        return f"Redis is unreachable ({sender.failures} failed attempt(s) so far)"
    return "events arrive faster than they are delivered to Redis"
