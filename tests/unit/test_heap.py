"""runtally.heap: freed memory is reused, not mapped afresh (page faults counted).

Each case runs in a fresh interpreter (the thresholds are process-wide): the shape of a
breakdown's bin decoding (~790 kB joined, two ~530 kB arrays decoded from it), repeated,
and the minor page faults of the repeats counted by ``getrusage``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys
import numpy as np
from runtally.heap import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
RECORD = np.dtype([("key", ">i4"), ("count", ">i8")])
blobs = [bytes(range(256)) * 3 for _ in range(1029)]  # 790,272 bytes: whole 12-byte bins
def decode():
    items = np.frombuffer(b"".join(blobs), dtype=RECORD)
    return items["key"].astype(np.int64), items["count"].astype(np.int64)
decode()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    decode()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def _faults_per_call(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    return float(done.stdout)


@pytest.mark.parametrize(("mode", "low", "high"), [("kept", 0, 5), ("defaults", 100, 10_000)])
def test_page_faults_per_decode(mode: str, low: float, high: float) -> None:
    # With glibc's defaults each call maps its ~1.8 MB afresh (~450 pages, a fault each);
    # kept, the second call on reuses the freed heap.
    assert low <= _faults_per_call(mode) <= high
