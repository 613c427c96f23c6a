"""The CLI answers bad input with one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from runtally.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "code", "needle"),
    [
        ({"RUNTALLY_DATABASE_URL": "mysql://x"}, 2, "RUNTALLY_DATABASE_URL"),
        ({"RUNTALLY_BATCH_SIZE": "zero"}, 2, "RUNTALLY_BATCH_SIZE"),
        (
            {"RUNTALLY_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"},
            1,
            "cannot reach Postgres at postgresql://x@127.0.0.1:1/x",
        ),
    ],
)
def test_migrate_errors_are_one_line(env: dict[str, str], code: int, needle: str) -> None:
    result = run_cli("migrate", **env)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("runtally: error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_python_dash_m_runtally_is_the_same_cli() -> None:
    # The benchmarks fall back to it where no console script was installed.
    module = subprocess.run(
        [sys.executable, "-m", "runtally", "migrate", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert module.returncode == 0, module.stderr
    assert "migrate" in module.stdout
    bad = subprocess.run([sys.executable, "-m", "runtally", "no-such-command"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
