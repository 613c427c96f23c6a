"""``Tally``: the mergeable aggregate of a set of runs (pure; no I/O).

One rollup row, one group of raw rows aggregated in SQL, and one API answer are all a
``Tally``. Tallies merge exactly (counts, token and cost sums, min/max, sketch bins) or
by sketch union (distinct users and sessions), so any range is answered by merging rows.
The column names of ``ROLLUP_FIELDS`` are those of ``rollup_hourly``/``rollup_daily``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter
from typing import Any

from runtally.sketch import LatencySketch, hll_estimate, hll_union

# The cost split that lets ``runtally reprice`` recompute a row's cost from its own sums,
# exactly, where raw rows are gone: the runs whose cost the event carried (never
# repriced), their cost and tokens; the runs with no tokens to price; and the runs rolled
# up before the split was kept (migration 0003; they cannot be repriced from sums).
COST_SPLIT = (
    "event_runs", "event_cost_usd", "event_input_tokens", "event_output_tokens",
    "event_cache_read_tokens", "event_cache_write_tokens", "tokenless_runs", "unsplit_runs",
)  # fmt: skip

# Columns a rollup row carries besides its key (project, bucket, agent, model, error_type).
ROLLUP_FIELDS = (
    "runs", "successes", "failures", "duration_sum", "duration_min", "duration_max",
    "lat_zero", "lat_keys", "lat_counts", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs",
    "ttft_sum", "ttft_count", "users_hll", "sessions_hll", *COST_SPLIT, "price_versions",
)  # fmt: skip

# The fields that add on merge and subtract on ``subtract``: every field but min/max,
# the latency sketch and the distinct sketches.
SUMS = (
    "runs", "successes", "failures", "duration_sum", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "cost_usd", "unpriced_runs", "ttft_sum",
    "ttft_count", *COST_SPLIT,
)  # fmt: skip


# The ``ROLLUP_FIELDS`` a tally takes from a row as they are (``Tally.from_row``).
_COPIED = (
    "runs", "successes", "failures", "duration_sum", "duration_min", "duration_max",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "unpriced_runs", "ttft_sum", "ttft_count", *COST_SPLIT,
)  # fmt: skip


@dataclass
class Tally:
    """Aggregate of runs. ``users``/``sessions`` hold serialized HLLs, unioned lazily."""

    runs: int = 0
    successes: int = 0
    failures: int = 0
    duration_sum: float = 0.0
    duration_min: float | None = None
    duration_max: float | None = None
    latency: LatencySketch = field(default_factory=LatencySketch)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_runs: int = 0
    ttft_sum: float = 0.0
    ttft_count: int = 0
    users: list[bytes] = field(default_factory=list)
    sessions: list[bytes] = field(default_factory=list)
    event_runs: int = 0
    event_cost_usd: Decimal = Decimal(0)
    event_input_tokens: int = 0
    event_output_tokens: int = 0
    event_cache_read_tokens: int = 0
    event_cache_write_tokens: int = 0
    tokenless_runs: int = 0
    unsplit_runs: int = 0
    # The price tables (``PriceTable.version``) of the runs' costs; a set, merged by union.
    price_versions: set[str] = field(default_factory=set)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], latency: LatencySketch | None = None) -> Tally:
        """Build from a record with the ``ROLLUP_FIELDS`` columns; ``latency``, when
        given, is the row's sketch already decoded (its bin columns are then not read)."""
        if latency is None:
            latency = LatencySketch.from_arrays(
                row["lat_zero"], row["lat_keys"] or [], row["lat_counts"] or []
            )
        # Filled field by field, past ``__init__``: an answer builds a tally per rollup
        # row (hundreds), and the generated ``__init__`` costs more than the reads.
        tally = cls.__new__(cls)
        fields = vars(tally)
        for name in _COPIED:
            fields[name] = row[name]
        fields["latency"] = latency
        fields["cost_usd"] = Decimal(row["cost_usd"])
        fields["event_cost_usd"] = Decimal(row["event_cost_usd"])
        fields["users"] = [row["users_hll"]] if row["users_hll"] else []
        fields["sessions"] = [row["sessions_hll"]] if row["sessions_hll"] else []
        fields["price_versions"] = set(row["price_versions"] or ())
        return tally

    @classmethod
    def merged(cls, tallies: Iterable[Tally]) -> Tally:
        """A new tally of all ``tallies`` (left as they are): the same values as merging
        them one by one into an empty tally, in order, one pass per field (an answer
        bucket of a local-day series merges dozens of rows)."""
        group = list(tallies)
        total = cls()
        if not group:
            return total
        fields = [vars(tally) for tally in group]
        sums = vars(total)
        for name in SUMS:  # sum() adds left to right from the start value, as merge does
            sums[name] = sum(map(itemgetter(name), fields), sums[name])
        lows = [t.duration_min for t in group if t.duration_min is not None]
        highs = [t.duration_max for t in group if t.duration_max is not None]
        total.duration_min = min(lows) if lows else None
        total.duration_max = max(highs) if highs else None
        for tally in group:
            total.latency.merge(tally.latency)
            total.users += tally.users
            total.sessions += tally.sessions
            total.price_versions |= tally.price_versions
        return total

    def merge(self, other: Tally) -> None:
        """Fold ``other`` into this tally."""
        mine, theirs = vars(self), vars(other)  # dict items: ~2x cheaper than getattr/setattr
        for name in SUMS:
            mine[name] += theirs[name]
        self.duration_min = _pick(min, self.duration_min, other.duration_min)
        self.duration_max = _pick(max, self.duration_max, other.duration_max)
        self.latency.merge(other.latency)
        self.users.extend(other.users)
        self.sessions.extend(other.sessions)
        if other.price_versions:
            self.price_versions |= other.price_versions

    def subtract(self, other: Tally) -> None:
        """Take ``other``'s runs out of this tally: counts, sums and latency bins.

        ``other`` must describe a subset of this tally's runs. min/max and the distinct
        sketches cannot be subtracted: they are left as they are, for the caller to set
        from the remaining runs; so are ``price_versions`` (a version of the taken runs
        may stay listed).
        """
        mine, theirs = vars(self), vars(other)
        for name in SUMS:
            mine[name] -= theirs[name]
        self.latency.subtract(other.latency)

    def to_row(self) -> dict[str, Any]:
        """The ``ROLLUP_FIELDS`` columns, HLLs unioned into one sketch each."""
        zero, keys, counts = self.latency.to_arrays()
        mine = vars(self)
        return {
            "runs": self.runs,
            "successes": self.successes,
            "failures": self.failures,
            "duration_sum": self.duration_sum,
            "duration_min": self.duration_min if self.duration_min is not None else 0.0,
            "duration_max": self.duration_max if self.duration_max is not None else 0.0,
            "lat_zero": zero,
            "lat_keys": keys,
            "lat_counts": counts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            "unpriced_runs": self.unpriced_runs,
            "ttft_sum": self.ttft_sum,
            "ttft_count": self.ttft_count,
            "users_hll": hll_union(self.users),
            "sessions_hll": hll_union(self.sessions),
            **{name: mine[name] for name in COST_SPLIT},
            "price_versions": sorted(self.price_versions),
        }

    # --- read-side views (the API's JSON shapes)

    def latency_ms(self) -> dict[str, float | None]:
        """avg, min, max (exact) and p50…p99 (sketch, clamped to min/max)."""
        out: dict[str, float | None] = {
            "avg": self.duration_sum / self.runs if self.runs else None,
            "min": self.duration_min if self.runs else None,
            "max": self.duration_max if self.runs else None,
        }
        out.update(self.latency.quantiles(self.duration_min, self.duration_max))
        return out

    def tokens(self) -> dict[str, int]:
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_read": self.cache_read_tokens,
            "cache_write": self.cache_write_tokens,
            "total": self.input_tokens + self.output_tokens,
        }

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.runs if self.runs else None

    @property
    def unique_users(self) -> int:
        return hll_estimate(hll_union(self.users))

    @property
    def unique_sessions(self) -> int:
        return hll_estimate(hll_union(self.sessions))

    @property
    def ttft_avg_ms(self) -> float | None:
        return self.ttft_sum / self.ttft_count if self.ttft_count else None


def _pick(choose: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    result: float = choose(a, b)
    return result
