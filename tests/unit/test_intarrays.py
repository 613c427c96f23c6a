"""``store.intarrays.int_array`` decodes Postgres's ``array_send`` bytes (the byte strings
below were printed by Postgres 15: ``encode(array_send(...), 'hex')``) and refuses
anything but a one-dimensional int4/int8 array without NULLs."""

from __future__ import annotations

import pytest

from runtally.store.intarrays import int_array, int_arrays, sent

DECODED = [
    ("'{}'::int[]", "000000000000000000000017", []),
    (
        "'{1,-2}'::int[]",
        "0000000100000000000000170000000200000001000000040000000100000004fffffffe",
        [1, -2],
    ),
    ("'{5}'::bigint[]", "0000000100000000000000140000000100000001000000080000000000000005", [5]),
    (
        "'[3:4]={1,2}'::int[]",  # the lower bound does not matter
        "000000010000000000000017000000020000000300000004000000010000000400000002",
        [1, 2],
    ),
    (
        "'{9223372036854775807}'::bigint[]",
        "0000000100000000000000140000000100000001000000087fffffffffffffff",
        [2**63 - 1],
    ),
]


@pytest.mark.parametrize(("literal", "hexed", "values"), DECODED)
def test_decodes_what_postgres_sends(literal: str, hexed: str, values: list[int]) -> None:
    got = int_array(bytes.fromhex(hexed))
    assert got.dtype.name == "int64"
    assert got.tolist() == values, literal


REFUSED = [
    ("", "shorter"),
    ("00000001000000000000001700000002", "shorter"),
    ("000000000000000000000017ff", "trailing"),
    # '{{1},{2}}'::int[]: two dimensions
    ("000000020000000000000017000000020000000100000001000000010000000400000001", "dimensions"),
    # '{1,NULL}'::int[]
    ("00000001000000010000001700000002000000010000000400000001ffffffff", "NULL"),
    # '{1}'::smallint[] (oid 21)
    ("00000001000000000000001500000001000000010000000200 01".replace(" ", ""), "oid 21"),
    # one element short of its header
    ("00000001000000000000001700000002000000010000000400000001", "length"),
    # an int4 element whose length field says 8 bytes
    ("00000001000000000000001700000001000000010000000800000001", "size"),
]


@pytest.mark.parametrize(("hexed", "message"), REFUSED)
def test_refuses_other_arrays(hexed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        int_array(bytes.fromhex(hexed))


def test_select_expression() -> None:
    assert sent("lat_keys") == "array_send(lat_keys) AS lat_keys"


def test_many_arrays_decode_together() -> None:
    blobs = [bytes.fromhex(hexed) for _, hexed, _ in DECODED]
    got = int_arrays(blobs)  # int4 and int8 mixed: each on its own
    assert [a.tolist() for a in got] == [values for _, _, values in DECODED]
    int4 = [bytes.fromhex(DECODED[i][1]) for i in (0, 1, 0, 3, 1)]
    assert [a.tolist() for a in int_arrays(int4)] == [[], [1, -2], [], [1, 2], [1, -2]]
    assert int_arrays([]) == []
    with pytest.raises(ValueError, match="NULL"):
        int_arrays([*int4, bytes.fromhex(REFUSED[4][0])])
