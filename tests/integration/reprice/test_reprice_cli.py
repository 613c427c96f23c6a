"""``runtally reprice`` and ``runtally prices`` as a user runs them: the per-model table
on stdout, and every bad input as one line on stderr with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runtally.config import Settings
from tests.integration.reprice.kit import NEW, OLD, insert, make_runs, table

pytestmark = pytest.mark.integration


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from runtally.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


async def test_dry_run_then_apply_print_the_per_model_table(
    pool: Any, settings: Settings, tmp_path: Path
) -> None:
    runs = make_runs(400, seed=5)
    async with pool.acquire() as conn:
        await insert(conn, runs, OLD)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(NEW))
    env = {
        "RUNTALLY_DATABASE_URL": settings.database_url,
        "RUNTALLY_PRICES_FILE": str(prices),
        # The runs are in June 2026: keep them inside raw retention whatever today is.
        "RUNTALLY_RAW_RETENTION_DAYS": "36500",
    }
    dry = run_cli("reprice", "--dry-run", "--model", "m-c", **env)
    assert dry.returncode == 0, dry.stderr
    mine = [r for r in runs if r.model == "m-c" and r.event_cost is None]
    after = sum(r.cost(NEW) or 0 for r in mine)
    lines = dry.stdout.splitlines()
    assert lines[1].split() == [
        "m-c",
        str(len(mine)),
        str(len(mine) - sum(r.cost(NEW) is None for r in mine)),
        "0.000000000000",
        f"{after:.12f}",
    ]
    assert f"price table {table(NEW).version}: dry run, nothing changed" in dry.stdout
    applied = run_cli("reprice", "--model", "m-c", "--batch-rows", "50", **env)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.replace("applied", "dry run, nothing changed") == dry.stdout
    again = run_cli("reprice", "--model", "m-c", **env)  # nothing left to change
    assert again.stdout.splitlines()[1].split()[2] == "0"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("reprice", "--from", "2026-02-30"), "--from must be a date YYYY-MM-DD, got '2026-02-30'"),
        (("reprice", "--to", "yesterday"), "--to must be a date YYYY-MM-DD"),
        (
            ("reprice", "--from", "2026-02-02", "--to", "2026-02-01"),
            "--to 2026-02-01 is before --from",
        ),
        (("reprice",), "cannot reach Postgres at postgresql://x@127.0.0.1:1/x"),
        (("prices", "--model", "nope"), "no price for model 'nope' in built-in"),
    ],
)
def test_bad_input_is_one_line(args: tuple[str, ...], needle: str) -> None:
    result = run_cli(*args, RUNTALLY_DATABASE_URL="postgresql://x@127.0.0.1:1/x")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == f"runtally: error: {needle}" or needle in lines[0]


def test_bad_prices_file_is_one_line(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"version": "v", "models": {"m": [{"input": 1, "output": 1}]}}))
    for command in ("prices", "reprice"):
        result = run_cli(command, RUNTALLY_PRICES_FILE=str(prices))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"runtally: error: bad prices file {prices}: models.m[0].effective_from is required"
        )


def test_prices_lists_the_effective_table(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(NEW))
    result = run_cli("prices", RUNTALLY_PRICES_FILE=str(prices))
    assert result.returncode == 0
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0][2] == table(NEW).version
    assert rows[2][:3] == ["m-a", "2026-06-02", "1.5"]
    assert rows[3][:3] == ["m-a", "2026-06-03", "2"]
