"""Which buckets of a local-day series ``rollup_zone_daily`` answers (``rollup.zones``).

A bucket is answered by its zone-day rows when it is a whole local day of a registered
zone and those rows describe the snapshot: the day is not marked for the roll, none of
its hours is dirty, and it needs no quarter-hour rows from before that grain existed
(``rollup_q15_horizon``: such a day was rolled short). Every other bucket is covered
from UTC days, hours and quarter hours as before (``cover``).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime, tzinfo
from itertools import pairwise

from runtally import localtime
from runtally.api.rollups import Markers
from runtally.grid import HOUR, floor_to
from runtally.store.protocols import Connection
from runtally.store.selection import Selection

REGISTERED = "SELECT EXISTS (SELECT 1 FROM rollup_zones WHERE zone = $1)"


def whole_days(
    boundaries: Sequence[datetime],
    tz: tzinfo,
    dirty_hours: Set[datetime],
    marked: Set[datetime],
    since: datetime | None,
) -> list[datetime]:
    """Starts of the buckets ``[boundaries[i], boundaries[i + 1])`` that are whole local
    days of ``tz``, not ``marked``, without a dirty hour, and not needing quarter-hour
    rows before ``since`` (pure)."""
    out = []
    for start, end in pairwise(boundaries):
        first = floor_to(start, HOUR)
        if localtime.local_day(start, tz) != (start, end) or start in marked:
            continue
        if since is not None and first < since and (first != start or end != floor_to(end, HOUR)):
            continue
        if any(first <= hour < end for hour in dirty_hours):
            continue
        out.append(start)
    return out


async def zone_days(
    conn: Connection,
    selection: Selection,
    boundaries: Sequence[datetime],
    tz: tzinfo,
    markers: Markers,
    granularity: str | None,
) -> list[datetime]:
    """The buckets of a series in ``tz`` that ``rollup_zone_daily`` answers (none unless
    ``granularity`` is ``"day"`` and ``tz`` registered), read in the request's snapshot."""
    name = localtime.zone_name(tz)
    if granularity != "day" or not await conn.fetchval(REGISTERED, name):
        return []
    rows = await conn.fetch(
        "SELECT day FROM rollup_dirty_zone_day WHERE project = $1 AND zone = $2"
        " AND day >= $3 AND day < $4",
        selection.project, name, selection.start, selection.end,
    )  # fmt: skip
    marked = {row["day"] for row in rows}
    return whole_days(boundaries, tz, markers.hours, marked, markers.quarters_since)
