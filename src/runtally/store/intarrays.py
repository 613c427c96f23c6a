"""Integer arrays read as Postgres's binary array format (``array_send``) into numpy
(pure; no I/O).

Reading a rollup row's latency bins as ``integer[]``/``bigint[]`` makes the driver build
one Python int per bin: hundreds per row, hundreds of thousands for a 30-day hourly
series, which cost more than the rest of the answer. Selected as ``array_send(column)``
they arrive as one ``bytea`` each, decoded here by ``numpy.frombuffer`` without a Python
object per element.

The format (``array_send``): int32 number of dimensions, int32 has-nulls flag, int32
element type oid, then per dimension int32 length and int32 lower bound, then per element
int32 byte length and the value, all big-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

INT4_OID = 23
INT8_OID = 20
_ELEMENTS = {
    INT4_OID: np.dtype([("size", ">i4"), ("value", ">i4")]),
    INT8_OID: np.dtype([("size", ">i4"), ("value", ">i8")]),
}
_ITEMSIZES = {oid: element.itemsize for oid, element in _ELEMENTS.items()}
_SIZES = {element: element["value"].itemsize for element in _ELEMENTS.values()}
_HEADER = struct.Struct(">iiiii")  # ndim, has nulls, oid, length, lower bound
_EMPTY = struct.Struct(">iii")  # an empty array: ndim 0, has nulls, oid


def sent(column: str) -> str:
    """The select expression that reads ``column`` (an int array) for ``int_array``."""
    return f"array_send({column}) AS {column}"


def _header(blob: bytes) -> tuple[int, int]:
    """``(elements, element type oid)`` of one encoded array, its layout checked."""
    if len(blob) >= _HEADER.size:  # the common case in one unpack; anything odd below
        ndim, nulls, oid, length, _ = _HEADER.unpack_from(blob)
        size = _ITEMSIZES.get(oid)
        if ndim == 1 and not nulls and size and len(blob) == _HEADER.size + length * size:
            return length, oid
    if len(blob) >= _EMPTY.size and _EMPTY.unpack_from(blob)[0] == 0:
        if len(blob) != _EMPTY.size:
            raise ValueError("empty int array with trailing bytes")
        return 0, _EMPTY.unpack_from(blob)[2]
    if len(blob) < _HEADER.size:
        raise ValueError("int array shorter than its header")
    ndim, nulls, oid, length, _ = _HEADER.unpack_from(blob)
    if ndim != 1:
        raise ValueError(f"int array of {ndim} dimensions, want 1")
    if nulls:
        raise ValueError("int array with NULL elements")
    element = _ELEMENTS.get(oid)
    if element is None:
        raise ValueError(f"array of element type oid {oid}, want int4 or int8")
    if len(blob) != _HEADER.size + length * element.itemsize:
        raise ValueError("int array length does not match its header")
    return length, oid


def int_array(blob: bytes) -> npt.NDArray[np.int64]:
    """The int64 values of a one-dimensional ``integer[]``/``bigint[]`` without NULLs, as
    ``array_send`` encodes it (an empty array: no dimensions).

    ``ValueError`` for anything else (more dimensions, NULL elements, another element
    type, a truncated or padded buffer, an element of the wrong size).
    """
    return int_arrays([blob])[0]


def int_arrays(blobs: Sequence[bytes]) -> list[npt.NDArray[np.int64]]:
    """``int_array`` of every blob, decoded in one numpy pass (per-array numpy calls
    would cost more than the driver's own decoding of a few hundred ints). The arrays
    returned are read-only views of one buffer."""
    heads = [_header(blob) for blob in blobs]
    types = {oid for length, oid in heads if length}
    if len(types) > 1:  # mixed element types: one pass per array
        return [int_arrays([blob])[0] for blob in blobs]
    if not types:
        return [np.zeros(0, dtype=np.int64) for _ in blobs]
    element = _ELEMENTS[types.pop()]
    bodies = (blob[_HEADER.size :] for blob, (n, _) in zip(blobs, heads, strict=True) if n)
    items = np.frombuffer(b"".join(bodies), dtype=element)
    if (items["size"] != _SIZES[element]).any():
        raise ValueError("int array element of unexpected size")
    values = items["value"].astype(np.int64)
    ends = np.cumsum([length for length, _ in heads]).tolist()
    return [values[end - length : end] for end, (length, _) in zip(ends, heads, strict=True)]
