"""Exponential backoff with jitter between retries of an unreachable edge. Pure.

Shared by the publisher SDK (its batch sender) and ingest (Redis and Postgres retries).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``base_s·2^n`` capped at ``cap_s``, each scaled by a jitter in [0.5, 1].

    Jitter spreads the reconnects of many workers after a shared outage.
    """

    cap_s: float
    base_s: float = 0.05
    jitter: Callable[[], float] = field(default=random.random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (and count this attempt)."""
        delay = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return float(delay * (0.5 + 0.5 * self.jitter()))

    def reset(self) -> None:
        self.attempt = 0
