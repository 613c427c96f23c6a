"""Shared pieces of the benchmarks: figures, the private server stack, timing helpers."""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from runtally.config import Settings
from runtally.devstack.servers import PostgresServer, RedisServer
from runtally.store.engine import connect
from runtally.store.migrate import upgrade
from runtally.store.partitions import ensure_partitions

# The server settings of every benchmark stack, recorded once for BENCHMARKS.md.
SERVER_SETTINGS: dict[str, str] = {}
PG_SETTINGS_SHOWN = (
    "server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_level",
    "shared_buffers", "max_wal_size", "work_mem", "track_commit_timestamp",
)  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A goal: ``value >= threshold`` (``higher``) or ``value <= threshold``."""

    threshold: float
    higher: bool = True
    text: str = ""

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.higher else value <= self.threshold

    def describe(self) -> str:
        return self.text or f"{'≥' if self.higher else '≤'} {fmt(self.threshold)}"


@dataclass(frozen=True)
class Limit:
    """The physical limit a figure is compared with, measured in the same run."""

    name: str
    value: float
    unit: str


@dataclass
class Figure:
    """One measured number. ``ratio`` is value / limit (1.0 = at the limit)."""

    bench: str
    name: str
    value: float
    unit: str
    target: Target | None = None
    limit: Limit | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.limit is None or not self.limit.value:
            return None
        return self.value / self.limit.value

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.target.met(self.value) else "MISSED"

    def line(self) -> str:
        """One console line: figure, target, limit, ratio."""
        parts = [f"{self.name}: {fmt(self.value)} {self.unit}"]
        if self.target is not None:
            parts.append(f"target {self.target.describe()} [{self.verdict}]")
        if self.limit is not None:
            ratio = self.ratio
            parts.append(
                f"limit {self.limit.name} {fmt(self.limit.value)} {self.limit.unit}"
                + (f" (ratio {ratio:.2f})" if ratio is not None else "")
            )
        if self.note:
            parts.append(self.note)
        return "  " + " | ".join(parts)


class Refused(Exception):
    """A benchmark cannot run as asked (e.g. not enough free disk): a one-line reason."""


@dataclass
class BenchContext:
    """What a benchmark gets: size scale, where to put notes, the figures it records.

    ``events``: the size asked for with ``--events`` (benchmarks that support it), or None.
    """

    quick: bool
    events: int | None = None
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def record(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(figure.line(), flush=True)
        return figure

    def note(self, bench: str, text: str) -> None:
        """A sentence for BENCHMARKS.md under the benchmark's section."""
        self.notes.setdefault(bench, []).append(text)
        print(f"  note: {text}", flush=True)


def fmt(value: float) -> str:
    """Readable numbers: thousands separators, 3 significant digits below 100."""
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Stack:
    """A private redis-server (no AOF) and a durable Postgres, migrated, under one folder."""

    root: Path
    redis: RedisServer
    pg: PostgresServer
    settings: Settings

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a ``runtally`` subprocess pointed at this stack."""
        import os

        env = dict(os.environ)
        env.update(
            RUNTALLY_REDIS_URL=self.settings.redis_url,
            RUNTALLY_DATABASE_URL=self.settings.database_url,
        )
        env.update(extra)
        return env


@contextlib.contextmanager
def private_stack(name: str, pg_options: dict[str, str] | None = None) -> Iterator[Stack]:
    """Start Redis (appendonly=False) and Postgres (durable=True) in a temp dir; migrate.

    ``pg_options`` are applied with ALTER SYSTEM and a restart (e.g. commit timestamps).
    """
    root = Path(tempfile.mkdtemp(prefix=f"runtally-bench-{name}-"))
    redis = RedisServer(root / "redis", appendonly=False)
    pg = PostgresServer(root / "pg", durable=True)
    redis.start()
    try:
        pg.start()
        try:
            if pg_options:
                for key, value in pg_options.items():
                    pg.psql(f"ALTER SYSTEM SET {key} = '{value}'")
                pg.restart()
            settings = Settings(redis_url=redis.url, database_url=pg.dsn(), consumer="bench")
            upgrade(settings)
            _record_server_settings(pg)
            yield Stack(root, redis, pg, settings)
        finally:
            pg.stop("fast")
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)


def _record_server_settings(pg: PostgresServer) -> None:
    if SERVER_SETTINGS:
        return
    for key in PG_SETTINGS_SHOWN:
        SERVER_SETTINGS[f"postgres {key}"] = pg.psql(f"SHOW {key}", database="runtally")


async def make_partitions(settings: Settings, first: date, last: date) -> None:
    """Create the daily partitions for ``[first, last]`` (as the scheduler would)."""
    conn = await connect(settings)
    try:
        await ensure_partitions(conn, first, last)
    finally:
        await conn.close()


def utc_now() -> datetime:
    return datetime.now(UTC)


def today_window(days_back: int = 1, days_ahead: int = 1) -> tuple[date, date]:
    today = utc_now().date()
    return today - timedelta(days=days_back), today + timedelta(days=days_ahead)


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
