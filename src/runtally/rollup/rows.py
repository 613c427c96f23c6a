"""Rollup rows in Postgres: replace one bucket's rows, read them back, lock keys.

Shared by the quarter-hour, hourly and daily rollups. All keep their rows keyed by
(project, bucket, dims, agent, model, error_type) with the ``ROLLUP_FIELDS`` columns:
each bucket at every grouping set of ``runtally.cube``. ``replace_rows`` also stores each
row's percentiles (``lat_pcts``, migration 0007) and its bins packed (``lat_bins``,
0008): caches of the row's own bins for the read API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from runtally.cube import FULL, GroupKey
from runtally.grid import DAY, floor_to
from runtally.packedbins import pack
from runtally.sketch import clamped_quantiles
from runtally.store.protocols import Connection
from runtally.store.selection import ROLLUP_TABLES, check_table
from runtally.tally import ROLLUP_FIELDS, Tally

TABLES = ROLLUP_TABLES
KEY_COLUMNS = ("project", "bucket", "dims", "agent", "model", "error_type")
COLUMNS = KEY_COLUMNS + ROLLUP_FIELDS  # what ``record`` gives (every schema since 0002)
STORED = (*COLUMNS, "lat_pcts", "lat_bins")  # what ``replace_rows`` writes


def lock_key(kind: str, project: str, bucket: datetime) -> int:
    """A stable signed 64-bit advisory-lock key for one (kind, project, bucket).

    Computed in Python from the bucket's epoch seconds, so it does not depend on the
    session time zone and is the same in every scheduler process.
    """
    text = f"runtally:{kind}:{project}:{int(bucket.timestamp())}"
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def day_start(moment: datetime) -> datetime:
    """UTC midnight of the day ``moment`` falls in."""
    return floor_to(moment.astimezone(UTC), DAY)


def record(project: str, key: GroupKey, tally: Tally) -> tuple[Any, ...]:
    """The values of one rollup row, in ``COLUMNS`` order."""
    row = tally.to_row()
    values = (row[name] for name in ROLLUP_FIELDS)
    return (project, key.bucket, key.dims, key.agent, key.model, key.error_type, *values)


async def replace_rows(
    conn: Connection,
    table: str,
    project: str,
    start: datetime,
    end: datetime,
    tallies: Mapping[GroupKey, Tally],
    zone: str | None = None,
) -> int:
    """Replace ``table``'s rows of ``project`` with buckets in ``[start, end)`` (and of
    ``zone``: given for ``ZONE_TABLE`` only).

    Call inside a transaction (the delete and the insert must commit together).
    Returns the number of rows written.
    """
    check_table(table, zone)
    keyed = {} if zone is None else {"zone": zone}  # key columns beyond ``STORED``'s
    await conn.execute(
        f"DELETE FROM {table} WHERE project = $1 AND bucket >= $2 AND bucket < $3"
        + "".join(f" AND {column} = ${n}" for n, column in enumerate(keyed, 4)),
        project, start, end, *keyed.values(),
    )  # fmt: skip
    records = [(*_stored(project, key, tally), *keyed.values()) for key, tally in tallies.items()
               if tally.runs]  # fmt: skip
    if records:
        await conn.copy_records_to_table(table, records=records, columns=[*STORED, *keyed])
    return len(records)


_ZERO, _KEYS, _COUNTS = (COLUMNS.index(c) for c in ("lat_zero", "lat_keys", "lat_counts"))
_LOW, _HIGH = COLUMNS.index("duration_min"), COLUMNS.index("duration_max")


def stored_percentiles(values: Sequence[Any]) -> list[float | None]:
    """The ``lat_pcts`` of a row (``values``: its ``record``): p50…p99 clamped to its
    min/max, as a read computes them (``runtally.quantiles``, which gives the same values
    in one numpy pass; per row here, from the bins ``record`` already sorted, is cheaper
    for the small sketches of most rows)."""
    pcts = clamped_quantiles(values[_ZERO], values[_KEYS], values[_COUNTS], values[_LOW],
                             values[_HIGH])  # fmt: skip
    return list(pcts.values())


def _stored(project: str, key: GroupKey, tally: Tally) -> tuple[Any, ...]:
    """The values of one row in ``STORED`` order: its percentiles and packed bins, both
    made from the arrays ``record`` already sorted out of the sketch."""
    values = record(project, key, tally)
    return (*values, stored_percentiles(values), pack(values[_KEYS], values[_COUNTS]))


async def read_rows(
    conn: Connection, table: str, project: str, start: datetime, end: datetime, dims: int = FULL
) -> dict[GroupKey, Tally]:
    """``table``'s rows of ``project`` at grouping set ``dims`` with buckets in
    ``[start, end)``, as tallies."""
    if table not in TABLES:
        raise ValueError(f"not a rollup table: {table}")
    rows = await conn.fetch(
        f"SELECT {', '.join(COLUMNS)} FROM {table} "
        "WHERE project = $1 AND bucket >= $2 AND bucket < $3 AND dims = $4 "
        # A fixed order: merges of these rows then give the same HLL unions every time.
        "ORDER BY bucket, agent, model, error_type",
        project,
        start,
        end,
        dims,
    )
    return {
        GroupKey(row["bucket"], row["agent"], row["model"], row["error_type"], dims): (
            Tally.from_row(row)
        )
        for row in rows
    }
