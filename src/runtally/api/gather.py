"""The exact read path: every part of a selection's range from one snapshot.

Call inside the request's REPEATABLE READ READ ONLY transaction, so markers, rollups and
raw rows describe the same moment. ``gather`` reads the dirty markers, covers the range's
buckets (``cover``: UTC days, hours and quarter hours of rollup rows, raw rows only for
dirty hours and the partial quarter hours at bucket edges) and returns ``(GroupKey,
Tally)`` parts; callers fold them (``parts.fold``). Buckets are those of ``granularity``
in zone ``tz`` (``localtime``), so a local day of any zone is merged from rollup rows,
never rescanned from raw rows; a whole local day of a registered zone is one row per key
(``api.zonedays``). Parts are grouped by only the key columns a caller needs
(a grouping set of ``runtally.cube``): a 30-day summary merges about one row per day.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from runtally import localtime
from runtally.api.cover import Cover, cover, lone_sources
from runtally.api.errors import invalid
from runtally.api.parts import Part
from runtally.api.rollups import Read, Shown, dirty_markers, rollup_parts
from runtally.api.zonedays import zone_days
from runtally.localtime import zone_name
from runtally.store.aggregate import aggregate_intervals
from runtally.store.protocols import Connection
from runtally.store.selection import ZONE_TABLE, Selection


def cuts(selection: Selection, granularity: str | None, tz: tzinfo,
         starts: list[datetime] | None = None) -> list[datetime]:  # fmt: skip
    """The range cut at every bucket start of ``granularity`` in ``tz`` inside it
    (``None``: one bucket, the whole range); ``starts``: those buckets' starts, when
    the caller has them (``localtime.bucket_starts``), not worked out again."""
    if granularity is None:
        return [selection.start, selection.end]
    if starts is not None:
        return [selection.start, *starts[1:], selection.end]
    return localtime.boundaries(selection.start, selection.end, granularity, tz)


def _check_quarters(found: Cover, since: datetime | None) -> None:
    """A 422 when ``found`` needs quarter-hour rows of hours rolled before that grain
    (``since``: the first hour with them)."""
    if found.quarters and since is not None and since > found.quarters[0]:
        raise invalid(
            f"15-minute rollups begin at {since.isoformat()}: before that, cut ranges and "
            "buckets on whole UTC hours (tz=UTC, or a zone whose offset is whole hours)"
        )


def _reads(found: Cover, local: list[datetime], tz: tzinfo) -> list[Read]:
    """The rollup rows ``found`` and the zone days ``local`` stand for."""
    reads = [
        Read(ZONE_TABLE, local, zone_name(tz)),
        Read("rollup_daily", found.daily),
        Read("rollup_hourly", found.hourly),
        Read("rollup_q15", found.quarters),
    ]
    return [read for read in reads if read.buckets]


class Gathered(NamedTuple):
    """What ``gather`` read: the cover, the parts, and the rows shown as they are."""

    cover: Cover
    parts: list[Part]
    shown: list[Shown]


async def gather(
    conn: Connection,
    selection: Selection,
    granularity: str | None = None,
    distinct: bool = True,
    group_by: str | tuple[str, ...] | None = None,
    tz: tzinfo = UTC,
    lone: bool = False,
    show: bool = False,
    starts: list[datetime] | None = None,
) -> Gathered:
    """All parts of ``selection``, none straddling a bucket of ``granularity`` in ``tz``.

    ``granularity`` ``"hour"`` takes no daily rows; ``"day"`` or ``None`` (one bucket)
    may. A part's bucket is the start of its source (a UTC day, hour or quarter hour, or
    a raw interval's start), which lies inside the answer bucket the part belongs to and
    never before ``selection.start``. Parts are grouped by ``group_by`` (key columns,
    or ``None``) and the columns ``selection`` filters on; their other key columns are ''.
    ``lone``: the caller folds parts by answer bucket and ``group_by`` only, so a rollup
    bucket alone in its answer bucket (``cover.lone_sources``) may come with stored
    percentiles instead of bins (such parts cannot be merged); with ``show`` too (and no
    ``group_by``), such rows come as their point's fields (``Gathered.shown``), not as
    parts. A 422 (``ApiError``) when the range needs quarter-hour rows of hours rolled
    before that grain existed (``rollup_q15_horizon``): those answers would be short.
    ``starts``: the answer buckets' starts (``cuts``), when the caller has them."""
    dims = selection.dims(group_by)
    markers = await dirty_markers(conn, selection)
    boundaries = cuts(selection, granularity, tz, starts)
    local = await zone_days(conn, selection, boundaries, tz, markers, granularity)
    found = cover(boundaries, markers.hours, markers.days, granularity != "hour", set(local))
    alone = lone_sources(boundaries, found) | set(local) if lone else frozenset()  # zone days: lone
    _check_quarters(found, markers.quarters_since)
    answer = boundaries[:-1] if lone else None  # rows sharing one may be summed by Postgres
    shown: list[Shown] = []
    parts = await rollup_parts(conn, selection, _reads(found, local, tz), distinct, dims, alone,
                               answer=answer, shown=shown if show else None)  # fmt: skip
    raw = await aggregate_intervals(conn, selection, found.raw, distinct, dims)
    return Gathered(found, parts + list(raw.items()), shown)
