"""What ``runtally dev`` was asked to do, and what its final summary reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtally.devstack.fleet import FleetStats

# Days of history ``--demo`` backfills unless ``--history-days`` says otherwise.
DEMO_HISTORY_DAYS = 7


@dataclass(frozen=True)
class DevOptions:
    """The command line of ``runtally dev``.

    ``history_days`` None means the default: ``DEMO_HISTORY_DAYS`` with ``demo``, else 0.
    """

    data_dir: Path
    demo: bool = False
    duration: float | None = None
    api_port: int | None = None
    agents: int = 6
    rate: float = 20.0
    history_days: int | None = None

    @property
    def backfill_days(self) -> int:
        if self.history_days is not None:
            return self.history_days
        return DEMO_HISTORY_DAYS if self.demo else 0


@dataclass
class Outcome:
    """What the final summary reports; filled in as the run goes."""

    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    crashed: str | None = None
    summary: dict[str, Any] | None = None
    fleet: FleetStats | None = None
    undrained: int = 0
    postgres_stopped: bool = True
