"""Counters a rollup pass reports (for logs, the CLI summary and tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import Enum


class Outcome(Enum):
    """What happened to one dirty marker in one attempt."""

    CLEARED = "cleared"  # rows replaced and the marker cleared
    REDIRTIED = "redirtied"  # rows replaced, but newer events re-dirtied it: stays for later
    WAITING = "waiting"  # a day whose hours are still dirty: left for later
    SKIPPED = "skipped"  # another scheduler holds it, or it was already done


@dataclass
class RollStats:
    """Counts of markers by outcome, and of rollup rows written."""

    found: int = 0
    cleared: int = 0
    redirtied: int = 0
    waiting: int = 0
    skipped: int = 0
    rows: int = 0

    def count(self, outcome: Outcome, rows: int = 0) -> None:
        self.found += 1
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)
        self.rows += rows

    def add(self, other: RollStats) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def progressed(self) -> bool:
        """Whether this pass cleared any marker (so another pass may find more work)."""
        return self.cleared > 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
