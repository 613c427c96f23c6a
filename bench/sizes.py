"""Event counts given on the command line (``--events 10M``) and the disk they need.

The api benchmark stores its rows three times: Postgres's raw table with its index and
rollups, ClickHouse's compressed MergeTree copy, and one day of exported text at a time.
The bytes per event were measured on 300k and 1M runs (BENCHMARKS.md's api notes
print the measured figures of every run) and rounded up.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

POSTGRES_BYTES_PER_EVENT = 700  # raw table, its 2 indexes, rollups (550 measured at 1M)
CLICKHOUSE_BYTES_PER_EVENT = 200  # compressed columns (166 measured at 1M)
EXPORT_BYTES_PER_EVENT = 2 * 250 / 30  # two days of 30 exported as text at a time
MARGIN = 1.25
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def parse_events(text: str) -> int:
    """``300k``, ``1M``, ``2.5M`` or ``1000000`` as a count; ValueError otherwise."""
    match = _SIZE.match(text.replace("_", "").replace(",", ""))
    if match is None:
        raise ValueError(f"not an event count: {text!r} (examples: 300k, 1M, 50M, 2000000)")
    number, unit = match.groups()
    count = int(float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[unit.lower()])
    if count < 1_000:
        raise ValueError(f"at least 1k events, not {count:,}")
    return count


def bytes_needed(events: int, peer: bool) -> int:
    per_event = POSTGRES_BYTES_PER_EVENT + (
        CLICKHOUSE_BYTES_PER_EVENT + EXPORT_BYTES_PER_EVENT if peer else 0
    )
    return int(events * per_event * MARGIN)


def disk_refusal(folder: Path, events: int, peer: bool) -> str | None:
    """Why ``events`` do not fit in ``folder``'s free disk, or None when they do."""
    need = bytes_needed(events, peer)
    free = shutil.disk_usage(folder).free
    if need <= free:
        return None
    return (
        f"{events:,} events need about {need / 1e9:,.1f} GB of free disk under {folder} "
        f"(Postgres{' + ClickHouse' if peer else ''}, with a {MARGIN:g}x margin); "
        f"only {free / 1e9:,.1f} GB is free. Free some space or choose fewer --events."
    )
