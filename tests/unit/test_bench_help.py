"""The benchmark entry point starts and lists its benchmarks (benchmarks themselves are
not tests: they run with ``make bench`` and never fail on timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def bench(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bench <args>`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )


def test_bench_help_lists_every_benchmark(repo_root: Path) -> None:
    result = bench(repo_root, "--help")
    assert result.returncode == 0, result.stderr
    for name in ("ingest", "publisher", "latency", "rollup", "api", "memory", "--quick"):
        assert name in result.stdout


def test_bench_refuses_unknown_names(repo_root: Path) -> None:
    result = bench(repo_root, "nonsense")
    assert result.returncode == 2
    assert "unknown benchmark" in result.stderr
