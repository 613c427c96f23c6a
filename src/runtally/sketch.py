"""Mergeable sketches kept in rollup rows (pure; no I/O).

Latency: a DDSketch with logarithmic mapping at 1% relative accuracy. Bins are keyed
exactly as ``ddsketch.LogarithmicMapping(0.01).key(x)``; SQL computes the same key with
``SQL_KEY`` so an hourly rollup builds its bins in one GROUP BY. Zero durations have
their own count. Quantiles follow ddsketch (rank = q * (n - 1), lower bin, bin value)
and are clamped to the exact min/max kept beside the sketch.

Distinct counts: HyperLogLog (datasketches ``hll_sketch``, lg_k 12, about 1.5% error).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

import datasketches
import numpy as np
import numpy.typing as npt
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
# Bin keys or counts as stored: a sequence of ints, or an int64 numpy array.
Ints = Sequence[int] | npt.NDArray[np.int64]


def bucket_key(value: float) -> int:
    """The bin of a positive value (the Python twin of ``SQL_KEY``)."""
    return int(MAPPING.key(value))


def bucket_value(key: int) -> float:
    """The representative value of bin ``key`` (within 1% of every value in it)."""
    return float(MAPPING.value(key))


# Up to this many (key, count) pairs in all, a fold adds them in a dict: numpy's fixed
# cost per call (~10 µs) outweighs its speed below a few hundred pairs, and the tag
# rollup folds tens of thousands of sketches of a few bins each.
SMALL_FOLD = 256


def _add_parts(parts: Sequence[tuple[Ints, Ints]]) -> dict[int, int]:
    """The (key, count) parts added per key, empty bins dropped (as the numpy fold does)."""
    total: dict[int, int] = {}
    for keys, counts in parts:
        for key, count in zip(_ints(keys), _ints(counts), strict=True):
            total[key] = total.get(key, 0) + count
    return {key: count for key, count in total.items() if count}


def _add_dense(keys: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> dict[int, int]:
    """``_add_parts`` in one numpy pass over the keys' range (bins lie in a narrow band)."""
    low = int(keys.min())
    dense = np.zeros(int(keys.max()) - low + 1, dtype=np.int64)
    np.add.at(dense, keys - low, counts)
    (present,) = np.nonzero(dense)
    return dict(zip((present + low).tolist(), dense[present].tolist(), strict=True))


class LatencySketch:
    """DDSketch bins: ``zero`` counts values of 0, ``bins`` maps key -> count.

    Merging is lazy: ``merge`` and ``from_arrays`` only keep references to the (keys,
    counts) arrays, and the first read of ``bins`` folds them all in one numpy pass.
    A read answer merges dozens to thousands of rows of a few hundred bins each, which
    per-bin dict updates in Python would make the largest cost of a request. Arrays
    handed to ``from_arrays`` (sequences of ints or int numpy arrays) must not be mutated
    afterwards.
    """

    __slots__ = ("_bins", "_pending", "zero")
    # False for a stand-in that holds no bins (``runtally.stored_quantiles``).
    mergeable = True

    def __init__(self, zero: int = 0, bins: Mapping[int, int] | None = None) -> None:
        self.zero = zero
        self._bins: dict[int, int] = dict(bins) if bins else {}
        self._pending: list[tuple[Ints, Ints]] = []

    @classmethod
    def from_arrays(cls, zero: int, keys: Ints, counts: Ints) -> LatencySketch:
        """Build from the parallel arrays stored in rollup rows (kept by reference)."""
        if len(keys) != len(counts):
            raise ValueError("keys and counts differ in length")
        sketch = cls(zero)
        if len(keys):
            sketch._pending.append((keys, counts))
        return sketch

    @classmethod
    def from_keys(cls, zero: int, keys: npt.NDArray[np.int64]) -> LatencySketch:
        """Build from the bin key of each value (SQL's ``SQL_KEY`` per run, repeats and
        all), counted in one numpy pass; ``zero`` values of 0 besides."""
        bins, counts = np.unique(keys, return_counts=True)
        return cls.from_arrays(zero, bins, counts)

    @classmethod
    def from_counts(cls, zero: int, keys: Ints, counts: Ints) -> LatencySketch:
        """Build from parallel (key, count) arrays in which a key may repeat (counts add)."""
        if len(keys) != len(counts):
            raise ValueError("keys and counts differ in length")
        if len(keys) <= SMALL_FOLD:
            return cls(zero, _add_parts([(keys, counts)]))
        dense = _add_dense(np.asarray(keys, dtype=np.int64), np.asarray(counts, dtype=np.int64))
        return cls(zero, dense)

    @classmethod
    def from_values(cls, values: Iterable[float]) -> LatencySketch:
        sketch = cls()
        for value in values:
            sketch.add(value)
        return sketch

    @property
    def bins(self) -> dict[int, int]:
        """key -> count of every non-empty bin (folds pending merges first)."""
        if self._pending:
            self._fold()
        return self._bins

    def _fold(self) -> None:
        parts = self._pending
        if self._bins:
            parts.append(self._bins_part())
        if len(parts) == 1:
            keys, counts = (_ints(seq) for seq in parts[0])
            self._bins = dict(zip(keys, counts, strict=True))
        elif sum(len(keys) for keys, _ in parts) <= SMALL_FOLD:
            self._bins = _add_parts(parts)
        else:
            self._bins = _add_dense(
                np.concatenate([np.asarray(k, dtype=np.int64) for k, _ in parts]),
                np.concatenate([np.asarray(c, dtype=np.int64) for _, c in parts]),
            )
        self._pending = []

    def add(self, value: float, count: int = 1) -> None:
        if value < 0:
            raise ValueError("latency sketch takes values >= 0")
        if value == 0:
            self.zero += count
        else:
            key = bucket_key(value)
            bins = self.bins
            bins[key] = bins.get(key, 0) + count

    def merge(self, other: LatencySketch) -> None:
        """Add ``other``'s counts into this sketch (associative and commutative).

        ``other`` is left as it is and may be merged elsewhere too. ``ValueError`` when
        ``other`` holds no bins (``mergeable`` false): merging it would lose its runs.
        """
        if not other.mergeable:
            raise ValueError("a sketch without bins cannot be merged")
        self.zero += other.zero
        self._pending.extend(other._pending)
        if other._bins:
            self._pending.append(other._bins_part())

    def parts(self) -> list[tuple[Ints, Ints]]:
        """Parallel (keys, counts) sequences whose sum is ``bins``, without folding them
        (for ``runtally.quantiles``); keys may repeat across parts. Do not mutate."""
        if self._bins:
            return [*self._pending, self._bins_part()]
        return list(self._pending)

    def _bins_part(self) -> tuple[list[int], list[int]]:
        """The folded bins as a pending (keys, counts) part (copies: ``_bins`` may change)."""
        return list(self._bins), list(self._bins.values())

    def subtract(self, other: LatencySketch) -> None:
        """Take ``other``'s counts out of this sketch; ``other`` must be contained in it."""
        zero, keys, counts = other.to_arrays()
        self.zero -= zero
        if keys:
            self._pending.append((keys, [-count for count in counts]))

    def to_arrays(self) -> tuple[int, list[int], list[int]]:
        """``(zero, keys, counts)`` with keys ascending, for storage."""
        bins = self.bins
        keys = sorted(bins)
        return self.zero, keys, [bins[k] for k in keys]

    @property
    def count(self) -> int:
        return self.zero + sum(self.bins.values())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return (self.zero, self.bins) == (other.zero, other.bins)

    def __repr__(self) -> str:
        return f"LatencySketch(zero={self.zero}, bins={self.bins})"

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1) as ddsketch defines it; ``None`` when empty."""
        return self._quantiles((q,))[0]

    def _quantiles(self, qs: Sequence[float]) -> list[float | None]:
        return quantiles_of_arrays(*self.to_arrays(), qs)

    def quantiles(
        self, low: float | None = None, high: float | None = None
    ) -> dict[str, float | None]:
        """p50…p99, each clamped to the exact ``[low, high]`` when given."""
        return clamped_quantiles(*self.to_arrays(), low, high)


def quantiles_of_arrays(
    zero: int, keys: Sequence[int], counts: Sequence[int], qs: Sequence[float]
) -> list[float | None]:
    """The values at quantiles ``qs`` (0..1) of the bins ``to_arrays`` gives, as ddsketch
    defines them; ``None`` each when empty."""
    if not all(0 <= q <= 1 for q in qs):
        raise ValueError("quantile must be within [0, 1]")
    running = list(accumulate(counts, initial=zero))  # [zero, zero + c0, ...]: exact ints
    total = running[-1]
    if total == 0:
        return [None for _ in qs]
    out: list[float | None] = []
    for q in qs:
        rank = q * (total - 1)
        # The first bin whose running count exceeds the rank (else the last bin).
        i = bisect_right(running, rank, lo=1)
        out.append(0.0 if rank < zero else bucket_value(keys[min(i, len(keys)) - 1]))
    return out


def clamped_quantiles(
    zero: int, keys: Sequence[int], counts: Sequence[int], low: float | None, high: float | None
) -> dict[str, float | None]:
    """p50…p99 of the bins ``to_arrays`` gives, each clamped to ``[low, high]`` when both
    are given (a row's exact min and max)."""
    values = quantiles_of_arrays(zero, keys, counts, [q for _, q in QUANTILES])
    out: dict[str, float | None] = {}
    for (name, _), value in zip(QUANTILES, values, strict=True):
        if value is not None and low is not None and high is not None:
            value = min(max(value, low), high)
        out[name] = value
    return out


def _ints(values: Ints) -> Sequence[int]:
    """Python ints of a numpy array (``dict`` keys must not be numpy scalars)."""
    if isinstance(values, np.ndarray):
        converted: list[int] = values.tolist()
        return converted
    return values


def hll_from_values(values: Iterable[str]) -> bytes | None:
    """A compact serialized HLL of ``values``; ``None`` when there are none.

    The same set of values always gives the same bytes and estimate, whatever their order
    or repeats: values are added once each, sorted. (A sketch's HIP estimate depends on
    the order of its updates, and a union of one sketch keeps it.)
    """
    sketch = datasketches.hll_sketch(HLL_LG_K)
    for value in sorted(set(values)):
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
