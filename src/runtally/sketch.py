"""Mergeable sketches kept in rollup rows (pure; no I/O).

Latency: a DDSketch with logarithmic mapping at 1% relative accuracy. Bins are keyed
exactly as ``ddsketch.LogarithmicMapping(0.01).key(x)``; SQL computes the same key with
``SQL_KEY`` so an hourly rollup builds its bins in one GROUP BY. Zero durations have
their own count. Quantiles follow ddsketch (rank = q * (n - 1), lower bin, bin value)
and are clamped to the exact min/max kept beside the sketch.

Distinct counts: HyperLogLog (datasketches ``hll_sketch``, lg_k 12, about 1.5% error).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import datasketches
from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
MULTIPLIER = 34.65620375188817  # ln(2) / ln(gamma), gamma = 1.01 / 0.99
# The bucket key of a duration x > 0, in SQL. This exact form matches ddsketch at bucket
# boundaries; algebraically equal forms (e.g. ln(x)/ln(gamma)) are off by one there.
SQL_KEY = "ceil(ln({x}) / ln(2::float8) * 34.65620375188817)::int"
QUANTILES: tuple[tuple[str, float], ...] = (
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
)
HLL_LG_K = 12


def bucket_key(value: float) -> int:
    """The bin of a positive value (the Python twin of ``SQL_KEY``)."""
    return int(MAPPING.key(value))


def bucket_value(key: int) -> float:
    """The representative value of bin ``key`` (within 1% of every value in it)."""
    return float(MAPPING.value(key))


@dataclass
class LatencySketch:
    """DDSketch bins: ``zero`` counts values of 0, ``bins`` maps key -> count."""

    zero: int = 0
    bins: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_arrays(cls, zero: int, keys: Sequence[int], counts: Sequence[int]) -> LatencySketch:
        """Build from the parallel arrays stored in rollup rows."""
        return cls(zero=zero, bins=dict(zip(keys, counts, strict=True)))

    @classmethod
    def from_values(cls, values: Iterable[float]) -> LatencySketch:
        sketch = cls()
        for value in values:
            sketch.add(value)
        return sketch

    def add(self, value: float, count: int = 1) -> None:
        if value < 0:
            raise ValueError("latency sketch takes values >= 0")
        if value == 0:
            self.zero += count
        else:
            key = bucket_key(value)
            self.bins[key] = self.bins.get(key, 0) + count

    def merge(self, other: LatencySketch) -> None:
        """Add ``other``'s counts into this sketch (associative and commutative)."""
        self.zero += other.zero
        for key, count in other.bins.items():
            self.bins[key] = self.bins.get(key, 0) + count

    def to_arrays(self) -> tuple[int, list[int], list[int]]:
        """``(zero, keys, counts)`` with keys ascending, for storage."""
        keys = sorted(self.bins)
        return self.zero, keys, [self.bins[k] for k in keys]

    @property
    def count(self) -> int:
        return self.zero + sum(self.bins.values())

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1) as ddsketch defines it; ``None`` when empty."""
        if not 0 <= q <= 1:
            raise ValueError("quantile must be within [0, 1]")
        total = self.count
        if total == 0:
            return None
        rank = q * (total - 1)
        if rank < self.zero:
            return 0.0
        running = float(self.zero)
        for key in sorted(self.bins):
            running += self.bins[key]
            if running > rank:
                return bucket_value(key)
        return bucket_value(max(self.bins))

    def quantiles(
        self, low: float | None = None, high: float | None = None
    ) -> dict[str, float | None]:
        """p50…p99, each clamped to the exact ``[low, high]`` when given."""
        out: dict[str, float | None] = {}
        for name, q in QUANTILES:
            value = self.quantile(q)
            if value is not None and low is not None and high is not None:
                value = min(max(value, low), high)
            out[name] = value
        return out


def hll_from_values(values: Iterable[str]) -> bytes | None:
    """A compact serialized HLL of ``values``; ``None`` when there are none."""
    sketch = datasketches.hll_sketch(HLL_LG_K)
    for value in values:
        sketch.update(value)
    return None if sketch.is_empty() else bytes(sketch.serialize_compact())


def hll_union(serialized: Iterable[bytes | None]) -> bytes | None:
    """Union of serialized HLLs (``None`` entries are empty); ``None`` when all are empty."""
    union = datasketches.hll_union(HLL_LG_K)
    empty = True
    for blob in serialized:
        if blob:
            union.update(datasketches.hll_sketch.deserialize(blob))
            empty = False
    if empty:
        return None
    return bytes(union.get_result().serialize_compact())


def hll_estimate(serialized: bytes | None) -> int:
    """Distinct-count estimate of a serialized HLL (0 for ``None``)."""
    if not serialized:
        return 0
    estimate: float = datasketches.hll_sketch.deserialize(serialized).get_estimate()
    return round(estimate)
