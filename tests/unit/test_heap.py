"""runtally.heap: freed memory is reused, not mapped afresh (page faults counted).

Each case runs in a fresh interpreter (the thresholds are process-wide): a breakdown's
bin decoding (``packedbins.unpack_all`` of ~790 kB: joined, then two ~530 kB arrays
decoded from it), repeated, and the minor page faults of the repeats counted by
``getrusage``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys
from runtally.heap import keep_freed_memory
from runtally.packedbins import pack, unpack_all
if sys.argv[1] == "kept":
    assert keep_freed_memory()
blobs = [pack(list(range(64)), [1] * 64) for _ in range(1029)]  # 790,272 bytes
unpack_all(blobs)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    unpack_all(blobs)
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
