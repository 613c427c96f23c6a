"""p50…p99 of many latency sketches in one numpy pass (pure; no I/O).

A series answer needs the percentiles of hundreds of sketches (720 hourly points over
30 days), each merged from rollup rows of a few hundred bins. Folding each sketch into a
dict, sorting it and walking a running count in Python was the largest cost of such an
answer. Here every sketch's unfolded (keys, counts) parts are summed into one dense
matrix (a row per sketch, a column per bin key), the running counts are one ``cumsum``,
and each percentile's bin is the first column whose running count exceeds the rank.

The maths is ``LatencySketch.quantiles``' exactly (the tests compare both): rank
``q * (n - 1)`` over the zero count and the bins in key order, the lower bin whose running
count first exceeds it, that bin's ``bucket_value``, clamped to the exact min/max.
Counts are summed as int64 (exact).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from runtally.sketch import QUANTILES, LatencySketch, bucket_value
from runtally.stored_quantiles import StoredQuantiles

Ints = npt.NDArray[np.int64]
Bounds = tuple[float | None, float | None]  # exact (min, max) to clamp to, or None
# Dense cells per pass (int64: ~32 MB); more sketches than fit are done in slices.
MAX_CELLS = 1 << 22

_NAMES = [name for name, _ in QUANTILES]
_values: dict[int, float] = {}  # bucket_value by key: the same float, computed once


def _value(key: int) -> float:
    found = _values.get(key)
    if found is None:
        found = _values[key] = bucket_value(key)
    return found


def _stacked(sketches: Sequence[LatencySketch]) -> tuple[Ints, Ints, Ints]:
    """Every unfolded (key, count) of the sketches, with its sketch's index (ascending)."""
    parts = [sketch.parts() for sketch in sketches]
    sizes = [sum(len(keys) for keys, _ in mine) for mine in parts]
    rows = np.repeat(np.arange(len(sketches), dtype=np.int64), sizes)
    if not len(rows):
        empty = np.zeros(0, dtype=np.int64)
        return rows, empty, empty
    keys = np.concatenate([np.asarray(k, dtype=np.int64) for mine in parts for k, _ in mine])
    counts = np.concatenate([np.asarray(c, dtype=np.int64) for mine in parts for _, c in mine])
    return rows, keys, counts


def _running(rows: Ints, keys: Ints, counts: Ints, zeros: Ints) -> tuple[Ints, int]:
    """Running counts: ``[i, j]`` is sketch i's zero count plus its bins up to key
    ``low + j``; and ``low``. ``rows`` index into ``zeros``."""
    n = len(zeros)
    if not len(keys):
        return zeros[:, None].copy(), 0
    low = int(keys.min())
    span = int(keys.max()) - low + 1
    dense = np.zeros(n * span, dtype=np.int64)
    np.add.at(dense, rows * span + (keys - low), counts)
    running = np.cumsum(dense.reshape(n, span), axis=1)
    running += zeros[:, None]
    return running, low


def _picks(running: Ints, low: int, zeros: Ints) -> list[list[float | None]]:
    """Unclamped p50…p99 of each row of ``running`` (``None`` for an empty sketch)."""
    totals = running[:, -1]
    columns = []
    for _, q in QUANTILES:
        ranks = q * (totals - 1).astype(np.float64)
        # The first bin whose running count exceeds the rank (one exists: rank < total;
        # a column left of it that is not a bin has the same running count, so is not it).
        firsts = (running > ranks[:, None]).argmax(axis=1)
        values = _table(np.unique(firsts), low)[firsts]
        columns.append(np.where(ranks < zeros, 0.0, values).tolist())
    empty = (totals == 0).tolist()
    return [
        [None] * len(QUANTILES) if none else list(row)
        for none, row in zip(empty, zip(*columns, strict=True), strict=True)
    ]


def _table(used: Ints, low: int) -> npt.NDArray[np.float64]:
    """``bucket_value`` of key ``low + j`` at index j, for the columns ``used``."""
    table = np.zeros(int(used[-1]) + 1)
    for column in used.tolist():
        table[column] = _value(column + low)
    return table


def _unclamped(sketches: Sequence[LatencySketch]) -> list[list[float | None]]:
    """p50…p99 of each sketch, ``MAX_CELLS`` dense cells at a time at most."""
    rows, keys, counts = _stacked(sketches)
    zeros = np.array([sketch.zero for sketch in sketches], dtype=np.int64)
    span = int(keys.max()) - int(keys.min()) + 1 if len(keys) else 1
    step = max(1, MAX_CELLS // span)
    out: list[list[float | None]] = []
    for first in range(0, len(sketches), step):
        last = min(first + step, len(sketches))
        a, b = np.searchsorted(rows, [first, last]).tolist()
        running, low = _running(rows[a:b] - first, keys[a:b], counts[a:b], zeros[first:last])
        out += _picks(running, low, zeros[first:last])
    return out


def quantiles_of(
    sketches: Sequence[LatencySketch], bounds: Sequence[Bounds]
) -> list[dict[str, float | None]]:
    """p50…p99 of every sketch, each clamped to its ``(low, high)`` when both are given
    (as ``LatencySketch.quantiles(low, high)``). The sketches are left unfolded; a
    ``StoredQuantiles`` gives its stored values (clamped when they were computed).

    ``ValueError`` unless there is one ``bounds`` pair per sketch.
    """
    if len(bounds) != len(sketches):
        raise ValueError("one (low, high) per sketch")
    binned = [i for i, sketch in enumerate(sketches) if not isinstance(sketch, StoredQuantiles)]
    computed = iter(_unclamped([sketches[i] for i in binned]) if binned else [])
    out = []
    for sketch, (low, high) in zip(sketches, bounds, strict=True):
        if isinstance(sketch, StoredQuantiles):
            out.append(sketch.as_dict())
            continue
        found = next(computed)
        # A row is all None (an empty sketch) or all values.
        if found[0] is not None and low is not None and high is not None:
            found = [min(max(value, low), high) for value in found]  # type: ignore[type-var]
        out.append(dict(zip(_NAMES, found, strict=True)))
    return out
