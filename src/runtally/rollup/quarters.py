"""Quarter-hour rollup rows, and the hour's rows merged from them (one raw scan).

Rolling an hour aggregates its raw rows once, at UTC quarter hours (``aggregate_raw``
with ``bucket="q15"``), writes the four quarters to ``rollup_q15`` (every grouping set,
``cube``) and returns the hour's full-key tallies merged from its quarters, for
``rollup_hourly``. Merging is exact for everything but the distinct sketches: counts,
sums, min/max and latency bins add or combine exactly; user and session HLLs are
unioned, which gives the registers a sketch built from all the hour's ids would have
(the estimate may differ within the sketch's error, never the inputs).

Deterministic: quarters are merged in key order (bucket, agent, model, error type), so
the same raw rows always give the same hourly bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from runtally.cube import FULL, GroupKey, cube
from runtally.grid import HOUR
from runtally.rollup.rows import replace_rows
from runtally.sketch import hll_union
from runtally.store.aggregate import aggregate_raw
from runtally.store.protocols import Connection
from runtally.store.selection import Selection
from runtally.tally import Tally

TABLE = "rollup_q15"


def _order(key: GroupKey) -> tuple[datetime, str, str, str]:
    return key.bucket, key.agent, key.model, key.error_type


def hour_of_quarters(hour: datetime, quarters: Mapping[GroupKey, Tally]) -> dict[GroupKey, Tally]:
    """Full-key quarter tallies of ``hour`` merged per (agent, model, error_type), at ``hour``.

    ``quarters`` is left as it is (the merged tallies are new). ``ValueError`` for a
    quarter outside ``hour`` or a key that is not full.
    """
    merged: dict[GroupKey, Tally] = {}
    for key in sorted(quarters, key=_order):
        if key.dims != FULL or not hour <= key.bucket < hour + HOUR:
            raise ValueError(f"not a full-key quarter of {hour.isoformat()}: {key}")
        cell = GroupKey(hour, key.agent, key.model, key.error_type)
        if cell in merged:
            merged[cell].merge(quarters[key])
        else:
            merged[cell] = Tally.merged([quarters[key]])
    for tally in merged.values():
        # One sketch per cell now, not one per quarter: the grouping sets of the hour
        # then union a quarter as many sketches (``cube``).
        tally.users = _unioned(tally.users)
        tally.sessions = _unioned(tally.sessions)
    return merged


def _unioned(sketches: list[bytes]) -> list[bytes]:
    union = hll_union(sketches) if len(sketches) > 1 else None
    return [union] if union else sketches


async def roll_quarters(
    conn: Connection, project: str, hour: datetime
) -> tuple[dict[GroupKey, Tally], int]:
    """Replace ``hour``'s ``rollup_q15`` rows from its raw rows (inside the caller's
    transaction); returns the hour's full-key tallies and the quarter rows written."""
    quarters = await aggregate_raw(conn, Selection(project, hour, hour + HOUR), bucket="q15")
    hourly = hour_of_quarters(hour, quarters)
    written = await replace_rows(conn, TABLE, project, hour, hour + HOUR, cube(quarters))
    return hourly, written
