"""``runtally.packedbins``: the packed form is per bin ``int4send(key) ||
int8send(count)`` (checked against ``struct``), and ``unpack_all`` gives back every
blob's arrays, empty ones included; malformed input is refused."""

from __future__ import annotations

import random
import struct

import pytest

from runtally.packedbins import pack, unpack_all


def reference(keys: list[int], counts: list[int]) -> bytes:
    return b"".join(struct.pack(">iq", k, c) for k, c in zip(keys, counts, strict=True))


@pytest.mark.parametrize(
    ("keys", "counts"),
    [
        ([], []),
        ([7], [1]),
        ([-40, -1, 0, 3, 700], [1, 2, 3, 4, 5]),
        ([2**31 - 1, -(2**31)], [2**62, 1]),  # int4 and int8 extremes
    ],
)
def test_pack_is_int4send_then_int8send_per_bin(keys: list[int], counts: list[int]) -> None:
    assert pack(keys, counts) == reference(keys, counts)
    ((got_keys, got_counts),) = unpack_all([pack(keys, counts)])
    assert (got_keys.tolist(), got_counts.tolist()) == (keys, counts)


def test_unpack_all_splits_many_blobs_in_order() -> None:
    rng = random.Random(5)
    rows = []
    for _ in range(200):
        n = rng.choice([0, 0, 1, rng.randrange(2, 400)])
        keys = sorted(rng.sample(range(-500, 1500), n))
        rows.append((keys, [rng.randrange(1, 10**12) for _ in keys]))
    got = unpack_all([reference(k, c) for k, c in rows])
    assert [(k.tolist(), c.tolist()) for k, c in got] == rows


def test_no_blobs_and_bad_input_are_refused_or_empty() -> None:
    assert unpack_all([]) == []
    with pytest.raises(ValueError, match="multiple of 12"):
        unpack_all([reference([1], [2]), b"\x00" * 5])
    with pytest.raises(ValueError, match="differ in length"):
        pack([1, 2], [3])
