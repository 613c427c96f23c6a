"""What a read selects: one project, a range ``[start, end)`` and exact-match filters.

One value for every reader: the API's aggregates and run listings, the rollup of an hour,
the benchmarks. ``filters`` maps columns of ``agent_runs`` to the value they must equal.
The columns the rollup tables are keyed by (``ROLLED_UP``) can be answered from rollups;
the others only from raw rows (``rolled_up()`` tells which a selection is).

To add a filter: name its column in ``FILTER_COLUMNS`` (and in ``ROLLED_UP`` if the rollup
tables carry it); a filter that is not ``column = value`` (tags, say) becomes a field of
its own with its clause added in ``raw_where`` (and in the rollup readers).

``equals`` is the one builder of ``column = $n`` clauses. Column names only ever come from
``FILTER_COLUMNS`` (checked on construction), never from a request, so they are safe to
put into SQL text; values always travel as parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from runtally.cube import dims_of
from runtally.grid import DAY, HOUR, QUARTER

ROLLED_UP = ("agent", "model", "error_type")
FILTER_COLUMNS = frozenset((*ROLLED_UP, "status", "user_id", "session_id", "trace_id"))


def equals(pairs: Iterable[tuple[str, Any]], args: list[Any]) -> list[str]:
    """``column = $n`` for each (column, value), appending the values to ``args``.

    Parameter numbers continue after the ``len(args)`` parameters already in ``args``.
    """
    clauses = []
    for column, value in pairs:
        args.append(value)
        clauses.append(f"{column} = ${len(args)}")
    return clauses


ROLLUP_TABLES = ("rollup_q15", "rollup_hourly", "rollup_daily")
ZONE_TABLE = "rollup_zone_daily"  # local days of registered zones: a zone column more
# The buckets each table's rows start at (local days vary in length: none).
GRIDS = {"rollup_q15": QUARTER, "rollup_hourly": HOUR, "rollup_daily": DAY}


def check_table(table: str, zone: str | None) -> None:
    """``ValueError`` unless ``table`` is a rollup table and ``zone`` is given exactly
    when it is ``ZONE_TABLE`` (table names go into SQL text: never from a request)."""
    if not ((table in ROLLUP_TABLES and zone is None) or (table == ZONE_TABLE and zone)):
        raise ValueError(f"not a rollup table: {table} (zone {zone!r})")


def rollup_scope(table: str, selection: Selection, buckets: list[datetime], dims: int,
                 zone: str | None = None) -> tuple[list[str], list[Any]]:  # fmt: skip
    """The clauses and arguments ($1…) of a read of ``table``'s rows: ``shared_scope``
    and rows at ``buckets`` (``bucket_clause``)."""
    clauses, args = shared_scope(selection, dims, zone)
    return [*clauses, bucket_clause(table, buckets, args)], args


def shared_scope(selection: Selection, dims: int,
                 zone: str | None = None) -> tuple[list[str], list[Any]]:  # fmt: skip
    """The clauses and arguments ($1…) every table's rows of one read share:
    ``selection``'s project and filters, grouping set ``dims`` (and ``zone``, for
    ``rollup_zone_daily``). Each table adds its own ``bucket_clause``."""
    args: list[Any] = [selection.project, dims]
    clauses = ["project = $1", "dims = $2"]
    if zone is not None:
        args.append(zone)
        clauses.append(f"zone = ${len(args)}")
    clauses += equals(sorted(selection.filters.items()), args)
    return clauses, args


def bucket_clause(table: str, buckets: list[datetime], args: list[Any]) -> str:
    """The rows of ``table`` at ``buckets``, appending its parameters to ``args``: a
    range when they are every grid point of the table between the first and the last
    (a range bounds the index scan; ``= ANY`` of hundreds of buckets is checked row by
    row against the whole array), else ``= ANY``."""
    grid = GRIDS.get(table)
    ordered = sorted(buckets) if grid and len(buckets) > 1 else []
    if ordered and all(b - a == grid for a, b in pairwise(ordered)):
        args += [ordered[0], ordered[-1]]
        return f"bucket >= ${len(args) - 1} AND bucket <= ${len(args)}"
    args.append(buckets)
    return f"bucket = ANY(${len(args)}::timestamptz[])"


@dataclass(frozen=True)
class Selection:
    """Runs of ``project`` started in ``[start, end)`` whose columns equal ``filters``.

    ``ValueError`` for a filter on a column outside ``FILTER_COLUMNS``.
    """

    project: str
    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    # Runs whose tags hold every (key, value) here (``tags @> {...}``); only raw rows and
    # the tag rollups (``api.tagged``) answer these.
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.filters) - FILTER_COLUMNS)
        if unknown:
            raise ValueError(f"cannot filter on {', '.join(unknown)}")

    @classmethod
    def of(cls, project: str, start: datetime, end: datetime, **filters: str | None) -> Selection:
        """A selection with the given filters; ``None`` means no filter on that column."""
        return cls(project, start, end).narrowed(**filters)

    def narrowed(self, **filters: str | None) -> Selection:
        """This selection with more filters (``None``: none on that column); a new value
        for a filtered column replaces its old one."""
        given = {column: value for column, value in filters.items() if value is not None}
        return replace(self, filters={**self.filters, **given}) if given else self

    def during(self, start: datetime, end: datetime) -> Selection:
        """The same project and filters over ``[start, end)``."""
        return replace(self, start=start, end=end)

    def rolled_up(self) -> bool:
        """Whether every filter is on a column the rollup tables are keyed by (tag
        filters are not: ``rollup_hourly``/``rollup_daily`` carry no tags)."""
        return not self.tags and all(column in ROLLED_UP for column in self.filters)

    def dims(self, group_by: str | tuple[str, ...] | None = None) -> int:
        """The grouping set (``runtally.cube``) that keeps the filtered columns and the
        ``group_by`` column(s); ``KeyError`` if one is not a rollup key column."""
        by = group_by if isinstance(group_by, tuple) else (group_by,)
        return dims_of((*self.filters, *by))

    def raw_where(self) -> tuple[str, list[Any]]:
        """The WHERE condition on ``agent_runs`` and its parameters ($1 = project,
        $2 = start, $3 = end, then the filters)."""
        args: list[Any] = [self.project, self.start, self.end]
        clauses = ["project = $1", "started_at >= $2", "started_at < $3"]
        clauses += equals(sorted(self.filters.items()), args)
        if self.tags:
            args.append(json.dumps(dict(sorted(self.tags.items()))))
            clauses.append(f"tags @> ${len(args)}::text::jsonb")  # text: whatever jsonb codec
        return " AND ".join(clauses), args
