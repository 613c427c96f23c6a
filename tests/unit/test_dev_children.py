"""Child processes of `runtally dev`: SIGTERM first, SIGKILL only after the grace period."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from runtally.devstack.children import Child, child_env, stop_all
from tests.e2e.helpers import wait_for

POLITE = "import time\nwhile True: time.sleep(0.05)"
STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "while True: time.sleep(0.05)"
)


def python_child(name: str, code: str, tmp_path: Path) -> Child:
    return Child(name, ["-c", code], tmp_path / f"{name}.log", command=[sys.executable])


def test_stop_all_terminates_politely_then_kills(tmp_path: Path) -> None:
    polite = python_child("polite", POLITE, tmp_path)
    stubborn = python_child("stubborn", STUBBORN, tmp_path)
    for child in (polite, stubborn):
        child.start(child_env({}))
    wait_for(lambda: "ready" in stubborn.log_path.read_text(), 20, "the SIGTERM handler")
    codes = stop_all([polite, stubborn], grace_s=1.0)
    assert codes == {"polite": -signal.SIGTERM, "stubborn": -signal.SIGKILL}
    assert polite.exit_code() == -signal.SIGTERM
    assert stubborn.log_tail() == "ready"


def test_a_child_that_never_started_is_skipped(tmp_path: Path) -> None:
    assert stop_all([python_child("idle", POLITE, tmp_path)], grace_s=0.1) == {"idle": None}


def test_child_env_overrides_and_keeps_the_rest() -> None:
    env = child_env({"RUNTALLY_REDIS_URL": "redis://x:1/0"})
    assert env["RUNTALLY_REDIS_URL"] == "redis://x:1/0"
    assert "PATH" in env
    assert env["PYTHONUNBUFFERED"] == "1"
