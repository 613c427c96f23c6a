"""Latency bins packed into one ``bytea`` (``lat_bins``, migration 0008) (pure; no I/O).

A rollup row keeps its bins as two arrays (``lat_keys integer[]``, ``lat_counts
bigint[]``) and, since 0008, also packed: per bin, the key as a big-endian int4 and the
count as a big-endian int8, ascending by key — exactly ``int4send(key) ||
int8send(count)`` concatenated, so SQL can write the same bytes (``SQL_PACK``, the
migration's backfill). Reading them is the reason: Postgres sends an array element by
element (``array_send``: ~10 ms per column for the 720 rows of a 30-day local-day
series) but a ``bytea`` as it is, and one ``numpy.frombuffer`` decodes every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

RECORD = np.dtype([("key", ">i4"), ("count", ">i8")])
SIZE = RECORD.itemsize  # 12 bytes per bin
# The packed bins of the arrays ``keys`` and ``counts`` (SQL expressions), '' for none.
SQL_PACK = (
    "(SELECT coalesce(string_agg(int4send(k) || int8send(c), ''::bytea ORDER BY k), ''::bytea)"
    " FROM unnest({keys}, {counts}) AS u(k, c))"
)

Ints = npt.NDArray[np.int64]


def pack(keys: Sequence[int], counts: Sequence[int]) -> bytes:
    """The packed form of parallel ``keys`` (ascending, int4) and ``counts`` (int8)."""
    if len(keys) != len(counts):
        raise ValueError("keys and counts differ in length")
    out = np.empty(len(keys), dtype=RECORD)
    out["key"] = keys
    out["count"] = counts
    return out.tobytes()


def unpack_all(blobs: Sequence[bytes]) -> list[tuple[Ints, Ints]]:
    """``(keys, counts)`` of every packed blob, decoded in one numpy pass (read-only
    views of one buffer). ``ValueError`` for a blob that is not whole bins."""
    sizes = [len(blob) for blob in blobs]
    if any(size % SIZE for size in sizes):
        raise ValueError(f"packed bins must be a multiple of {SIZE} bytes")
    items = np.frombuffer(b"".join(blobs), dtype=RECORD)
    keys = items["key"].astype(np.int64)
    counts = items["count"].astype(np.int64)
    ends = np.cumsum(sizes) // SIZE
    starts = ends - np.asarray(sizes, dtype=np.int64) // SIZE
    return [(keys[a:b], counts[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
