"""The ClickHouse peer: the raw rows in a MergeTree table, each question one scan.

Langfuse and Helicone answer these questions by rescanning raw rows in ClickHouse on
every request. Here ClickHouse runs in-process (chDB, the ``bench`` extra) on the same
machine, with a MergeTree table ordered by ``(project, started_at)`` holding the very
rows Postgres holds: exported from Postgres one day at a time (``COPY … TO STDOUT`` in
text format, a temp file read by ClickHouse's ``file()``), tags mapped from ``jsonb`` to
``Map(String, String)``, parts merged (``OPTIMIZE … FINAL``) before timing. The load is
checked: row count, token sums and cost equal Postgres's.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.data import PROJECT
from bench.questions import Question
from bench.truth import QUANTILES

TABLE = "peer.runs"
CREATE = f"""
CREATE TABLE {TABLE} (
    event_id UUID,
    project LowCardinality(String),
    agent LowCardinality(String),
    model LowCardinality(String),
    started_at DateTime64(6, 'UTC'),
    duration_ms Float64,
    status LowCardinality(String),
    error_type LowCardinality(Nullable(String)),
    input_tokens Nullable(Int64),
    output_tokens Nullable(Int64),
    cache_read_tokens Nullable(Int64),
    cache_write_tokens Nullable(Int64),
    cost_usd Nullable(Decimal(24, 12)),
    session_id Nullable(String),
    user_id Nullable(String),
    tags Map(LowCardinality(String), String)
) ENGINE = MergeTree ORDER BY (project, started_at)
"""
COLUMNS = (
    "event_id, project, agent, model, started_at, duration_ms, status, error_type, "
    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, "
    "session_id, user_id, tags"
)
FILE_STRUCTURE = (
    "event_id UUID, project String, agent String, model String, started_at String, "
    "duration_ms Float64, status String, error_type Nullable(String), "
    "input_tokens Nullable(Int64), output_tokens Nullable(Int64), "
    "cache_read_tokens Nullable(Int64), cache_write_tokens Nullable(Int64), "
    "cost_usd Nullable(Decimal(24, 12)), session_id Nullable(String), "
    "user_id Nullable(String), tags Nullable(String)"
)
LOAD = f"""
INSERT INTO {TABLE}
SELECT event_id, project, agent, model, parseDateTime64BestEffort(started_at, 6, 'UTC'),
       duration_ms, status, error_type, input_tokens, output_tokens, cache_read_tokens,
       cache_write_tokens, cost_usd, session_id, user_id,
       JSONExtract(ifNull(tags, '{{{{}}}}'), 'Map(String, String)')
FROM file('{{path}}', 'TabSeparated', '{FILE_STRUCTURE}')
"""
_QS = ", ".join(str(q) for _, q in QUANTILES)
QUESTION_SQL = f"""
SELECT {{key}} AS key, count() AS runs, countIf(status = 'success') AS successes,
       avg(duration_ms), min(duration_ms), max(duration_ms),
       quantiles({_QS})(duration_ms),
       sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
       toString(sum(cost_usd)) AS cost, countIf(cost_usd IS NULL){{distinct}}
FROM {TABLE}
WHERE project = '{PROJECT}' AND started_at >= {{start}} AND started_at < {{end}}
{{group}}
"""
CHECK_SQL = f"""
SELECT count(), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
       toString(sum(cost_usd)), uniqExact(event_id) FROM {TABLE}
"""
PG_CHECK_SQL = """
SELECT count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens),
       sum(cost_usd), count(DISTINCT event_id) FROM agent_runs
"""


def _moment(value: datetime) -> str:
    return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"


class Peer:
    """A chDB session over a folder; :meth:`load` fills it, :meth:`ask` times a question."""

    def __init__(self, folder: Path) -> None:
        from chdb import session  # the `bench` extra: imported only when the peer runs

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        make: Any = session.Session  # chDB has no type hints
        self.session: Any = make(str(folder / "data"))
        self.session.query("CREATE DATABASE IF NOT EXISTS peer")
        self.session.query(CREATE)

    def close(self) -> None:
        self.session.close()

    def query(self, sql: str) -> list[list[Any]]:
        """Rows of ``sql`` (JSONCompact: numbers as numbers, Decimals as text)."""
        result = self.session.query(sql, "JSONCompact")
        data: list[list[Any]] = json.loads(result.bytes() or b'{"data": []}')["data"]
        return data

    async def load(self, conn: Any, start: datetime, end: datetime) -> float:
        """Copy Postgres's rows of ``[start, end)`` one day at a time; seconds taken.

        Pipelined: ClickHouse reads one day's file (in a thread) while Postgres writes the
        next day's, so both cores work.
        """
        began = time.perf_counter()
        await conn.execute("SET TimeZone = 'UTC'")
        days = []
        day = start
        while day < end:
            days.append((day, min(day + timedelta(days=1), end)))
            day = days[-1][1]
        inserting: asyncio.Future[Any] | None = None
        for i, (lower, upper) in enumerate(days):
            path = self.folder / f"chunk-{i % 2}.tsv"
            await conn.copy_from_query(
                f"SELECT {COLUMNS} FROM agent_runs WHERE started_at >= $1 AND started_at < $2",
                lower,
                upper,
                output=str(path),
                format="text",
            )
            if inserting is not None:
                await inserting
            inserting = asyncio.ensure_future(
                asyncio.to_thread(self.session.query, LOAD.format(path=path))
            )
        if inserting is not None:
            await inserting
        for stale in self.folder.glob("chunk-*.tsv"):
            stale.unlink()
        self.session.query(f"OPTIMIZE TABLE {TABLE} FINAL")
        return time.perf_counter() - began

    async def check_load(self, conn: Any) -> list[str]:
        """Row count, token sums, cost and distinct event ids against Postgres's table."""
        mine = self.query(CHECK_SQL)[0]
        theirs = await conn.fetchrow(PG_CHECK_SQL)
        names = ("rows", "input tokens", "output tokens", "cache read tokens", "cost", "ids")
        out = []
        for name, a, b in zip(names, mine, theirs, strict=True):
            same = Decimal(a) == b if name == "cost" else int(a) == b
            if same:
                continue
            out.append(f"{name}: ClickHouse {a} vs Postgres {b}")
        return out

    def sql(self, question: Question, start: datetime, end: datetime) -> str:
        grouped = question.ch_key is not None
        return QUESTION_SQL.format(
            key=question.ch_key if grouped else "'all'",
            distinct=", uniq(user_id), uniq(session_id)" if question.distinct else "",
            start=_moment(start),
            end=_moment(end),
            group="GROUP BY key ORDER BY key" if grouped else "",
        )

    def ask(self, question: Question, start: datetime, end: datetime) -> list[list[Any]]:
        """One answer (the rows, decoded in Python as a client of a peer would)."""
        return self.query(self.sql(question, start, end))

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


def runs_by_key(question: Question, rows: list[list[Any]]) -> dict[str, tuple[int, Decimal]]:
    """``{key: (runs, cost)}`` of a peer answer, for the same-rows check."""
    return {question.key(r[0]): (int(r[1]), Decimal(r[11])) for r in rows}
