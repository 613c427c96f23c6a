"""What `runtally dev` prints at the end and while stopping (rendered to text)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from runtally.devstack import report
from runtally.devstack.children import CLI
from runtally.devstack.fleet import FleetStats
from runtally.devstack.options import DevOptions, Outcome


def render(draw: object) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    draw(console)  # type: ignore[operator]
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_summary_names_every_component_and_how_it_stopped(tmp_path: Path) -> None:
    outcome = Outcome(
        tmp_path,
        ports={"redis": 16379, "postgres": 15432, "api": 8000},
        exit_codes={"ingest": 0, "scheduler": -signal.SIGKILL, "api": -signal.SIGTERM},
        fleet=FleetStats(published=1234),
        undrained=7,
    )
    text = render(lambda c: report.print_summary(c, outcome, 0))
    assert "127.0.0.1:16379 (AOF)" in text
    assert "stopped (exit 0)" in text
    assert f"killed (signal {signal.SIGKILL.value})" in text
    assert "stopped (SIGTERM)" in text
    assert "1,234 events published" in text
    assert "7 stream entries not yet stored" in text
    assert f"stopped cleanly; data kept in {tmp_path}" in text


def test_a_summary_after_a_failed_start_has_no_server_rows(tmp_path: Path) -> None:
    text = render(lambda c: report.print_summary(c, Outcome(tmp_path, undrained=-1), 1))
    assert "redis-server" not in text
    assert "not yet stored" not in text
    assert "exit code 1" in text


@pytest.mark.parametrize(
    ("left", "expected"),
    [(0, "✓ drained the stream"), (12, "12 stream entries left"), (-1, "Redis did not answer")],
)
def test_the_drain_step_says_what_is_left(left: int, expected: str) -> None:
    assert expected in render(lambda c: report.print_drained(c, left))


@pytest.mark.parametrize(
    ("history_days", "demo", "days"),
    [(None, True, 7), (None, False, 0), (0, True, 0), (3, False, 3)],
)
def test_history_defaults_to_a_week_with_the_demo_only(
    history_days: int | None, demo: bool, days: int, tmp_path: Path
) -> None:
    options = DevOptions(tmp_path, demo=demo, history_days=history_days)
    assert options.backfill_days == days


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--history-days", "30"], {}, "below the raw retention (30 days)"),
        (["--history-days", "5"], {"RUNTALLY_RAW_RETENTION_DAYS": "5"}, "(5 days)"),
        (["--history-days", "-1"], {}, "--history-days"),
    ],
)
def test_a_history_past_the_retention_is_refused_before_anything_starts(
    args: list[str], env: dict[str, str], needle: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [*CLI, "dev", "--data-dir", str(tmp_path / "dev"), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode != 0
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dev").exists()
