"""The idempotent write path of ingest: one batch of run rows in one transaction.

Measured fastest on this kind of machine: binary COPY into a per-connection TEMP table,
then ``INSERT INTO agent_runs SELECT ... ON CONFLICT DO NOTHING`` (a redelivered event
changes nothing), then the dirty markers of the touched (project, hour), all in ONE
transaction, so a committed row always has its marker and an aborted batch leaves
neither. Duplicates inside one batch are dropped before COPY (first one wins).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _escape
from operator import itemgetter
from typing import Any

from runtally.events import RunEvent
from runtally.grid import HOUR, floor_to
from runtally.store.dirty import mark_hours
from runtally.store.protocols import Connection

COLUMNS = (
    "event_id", "project", "agent", "model", "started_at", "ended_at", "duration_ms",
    "status", "error_type", "error_message", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "ttft_ms", "cost_usd", "cost_source",
    "price_version", "trace_id", "session_id", "user_id", "tags", "metadata",
)  # fmt: skip
_PROJECT, _STARTED = COLUMNS.index("project"), COLUMNS.index("started_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_JSON_COLUMNS = ("tags", "metadata")
TEMP_TABLE = "runtally_ingest_batch"
_COLUMN_LIST = ", ".join(COLUMNS)
# The temp table has agent_runs' columns, but JSON ones as text: binary COPY then needs no
# jsonb codec, and Postgres parses the text once, in the INSERT (a bad value fails there).
CREATE_TEMP_SQL = (
    f"CREATE TEMP TABLE IF NOT EXISTS {TEMP_TABLE} ON COMMIT DELETE ROWS AS SELECT "
    + ", ".join(f"{c}::text AS {c}" if c in _JSON_COLUMNS else c for c in COLUMNS)
    + " FROM agent_runs WITH NO DATA"
)
# The stream entries are acknowledged right after this commit returns, so it must be a
# durable commit even where the server runs with synchronous_commit=off.
PREPARE_SQL = f"SET LOCAL synchronous_commit TO on; {CREATE_TEMP_SQL}"
INSERT_SQL = (
    f"INSERT INTO agent_runs ({_COLUMN_LIST}) SELECT "
    + ", ".join(f"{c}::jsonb" if c in _JSON_COLUMNS else c for c in COLUMNS)
    # Rows are inserted in event_id order, so concurrent batches sharing events lock
    # them in one order and cannot deadlock.
    + f" FROM {TEMP_TABLE} ORDER BY event_id ON CONFLICT DO NOTHING"
)

RunRecord = tuple[Any, ...]


# RunEvent field names of the columns around started_at/ended_at, before cost_usd, and
# between price_version and tags.
_KEY_FIELDS = itemgetter("event_id", "project", "agent", "model")
_MEASURE_FIELDS = itemgetter(
    "duration_ms", "status", "error_type", "error_message", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "time_to_first_token_ms",
)  # fmt: skip
_ID_FIELDS = itemgetter("trace_id", "session_id", "user_id")


def run_record(
    event: RunEvent, cost: Decimal | None, cost_source: str | None, price_version: str | None
) -> RunRecord:
    """The ``agent_runs`` row of ``event`` in ``COLUMNS`` order.

    ``event`` is a validated event: ``ended_at`` and ``duration_ms`` are both set. The
    timestamps are the event's instants in UTC (``datetime.UTC``).
    """
    # Once per ingested event: the field values by C-level itemgetter calls on the
    # instance dict (where pydantic keeps them) instead of 20 attribute reads; tests
    # check the record against the attributes.
    values = vars(event)
    # The parser's timestamps carry pydantic's own tzinfo, whose utcoffset() is a slow
    # call; asyncpg's binary encoder asks it three times per timestamp and
    # touched_hours once more. Converted once here, every later question is cheap
    # (measured: CPU per ingested event in BENCHMARKS.md); the instant is the same.
    return (
        *_KEY_FIELDS(values), values["started_at"].astimezone(UTC),
        values["ended_at"].astimezone(UTC), *_MEASURE_FIELDS(values), cost, cost_source,
        price_version, *_ID_FIELDS(values), tags_json(values["tags"]),
        metadata_json(values["metadata"]),
    )  # fmt: skip


def tags_json(tags: dict[str, str] | None) -> str | None:
    """``json.dumps(tags)``, byte for byte, for the flat string map tags always are.

    Built from the C string escaper: about 4x cheaper than ``json.dumps``, which sets
    up its encoder on every call (this runs once per ingested event).
    """
    if tags is None:
        return None
    return "{" + ", ".join([f"{_escape(k)}: {_escape(v)}" for k, v in tags.items()]) + "}"


def metadata_json(value: dict[str, Any] | None) -> str | None:
    """``json.dumps(value)``: the text stored in the jsonb ``metadata`` column."""
    # Default arguments: json reuses its cached C encoder (custom separators would not).
    return None if value is None else json.dumps(value)


def hour_of(ts: datetime) -> datetime:
    """The UTC hour that contains ``ts``."""
    return floor_to(ts.astimezone(UTC), HOUR)


def touched_hours(records: Sequence[RunRecord]) -> set[tuple[str, datetime]]:
    """The (project, UTC hour) pairs the records fall in."""
    # Through epoch hours: a set of ints is far cheaper per row than datetime arithmetic.
    # One subtraction per row (it asks the row's UTC offset once; ``timestamp()`` costs
    # more) and integer hours from the normalised timedelta: exact, no float rounding.
    hours: set[tuple[str, int]] = set()
    add = hours.add
    for record in records:
        since = record[_STARTED] - _EPOCH
        add((record[_PROJECT], since.days * 24 + since.seconds // 3600))
    return {(p, _EPOCH + h * HOUR) for p, h in hours}


def dedupe(records: Sequence[RunRecord]) -> list[RunRecord]:
    """``records`` without repeated event ids (first occurrence kept, order kept)."""
    seen: dict[Any, RunRecord] = {}
    for record in records:
        seen.setdefault(record[0], record)
    return list(seen.values())


def _inserted(status: str) -> int:
    # asyncpg returns the command tag, e.g. "INSERT 0 1834".
    return int(status.rsplit(" ", 1)[-1])


async def insert_runs(conn: Connection, records: Sequence[RunRecord]) -> int:
    """Store ``records`` idempotently in one transaction; returns how many were new.

    ``conn`` is an asyncpg connection with the JSON codecs of ``store.engine``.
    Raises what asyncpg raises; on any error nothing of the batch is stored.
    """
    rows = dedupe(records)
    if not rows:
        return 0
    async with conn.transaction():
        await conn.execute(PREPARE_SQL)
        await conn.copy_records_to_table(TEMP_TABLE, records=rows, columns=COLUMNS)
        status = await conn.execute(INSERT_SQL)
        await mark_hours(conn, touched_hours(rows))
    return _inserted(status)
