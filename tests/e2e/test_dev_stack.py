"""`runtally dev --demo` brings the whole system up, serves live numbers and stops cleanly.

Runs the real command as a user would, with a temp data folder and free ports, in its own
process group as a terminal runs a job. Stops are tested the ways a user stops it:
``--duration``, Ctrl-C (SIGINT to the whole process group) and SIGTERM to the one process.
After each: exit 0 within the grace time, the steps printed in the documented order, and
no process of the stack left (the dev process, its children, Redis, Postgres).
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import pytest

from runtally.devstack.servers import free_port
from tests.e2e.devproc import (
    alive,
    assert_stopped_in_order,
    descendants,
    finish,
    listening,
    stack_pids,
    start_dev,
    wait_key,
    wait_line,
)
from tests.e2e.helpers import get_json, wait_for

pytestmark = pytest.mark.e2e

# Drain (15 s) + children's grace (10 + 5 s) + servers: the longest a clean stop may take.
STOP_TIMEOUT_S = 45


@pytest.fixture
def data_dir(server_root: Path) -> Path:
    """A data folder the ``postgres`` OS user can reach (pytest's tmp root is 0700)."""
    return Path(tempfile.mkdtemp(prefix="dev-", dir=server_root))


def pinned_ports(data_dir: Path) -> dict[str, int]:
    """Saved ports are preferred by `runtally dev`: this pins the servers to free ports."""
    ports = {"redis": free_port(), "postgres": free_port(), "api": free_port()}
    (data_dir / "ports.json").write_text(json.dumps(ports))
    return ports


def assert_nothing_left(pids: set[int], ports: dict[str, int], data_dir: Path) -> None:
    left = sorted(pid for pid in pids if alive(pid))
    assert not left, f"processes still running: {left}"
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists()
    for name, port in ports.items():
        assert not listening(port), f"{name} port {port} still open after runtally dev exited"


def test_dev_demo_runs_the_whole_system_and_stops_after_its_duration(data_dir: Path) -> None:
    ports = pinned_ports(data_dir)
    api = f"http://127.0.0.1:{ports['api']}"

    process, output = start_dev(
        data_dir, ports["api"], "--demo", "--history-days", "0", "--duration", "30"
    )
    key = wait_key(process, output, 90)
    assert f"Dashboard: {api}/#key={key}" in output.text
    runs = wait_for(
        lambda: get_json(f"{api}/v1/summary", key)["runs"], 30, "stored runs from the demo fleet"
    )
    assert runs > 0
    assert get_json(f"{api}/v1/breakdown?by=agent", key)["rows"]
    pids = stack_pids(process, data_dir)

    assert finish(process, output, 30 + STOP_TIMEOUT_S) == 0, output.text
    assert "stopping (--duration)" in output.text
    assert_stopped_in_order(output.text)
    assert "stopped cleanly" in output.text
    assert "summary" in output.text
    assert_nothing_left(pids, ports, data_dir)
    assert "history:" not in output.text  # --history-days 0: no backfill
    assert (data_dir / "postgres" / "pgdata" / "PG_VERSION").exists()
    assert (data_dir / "redis" / "appendonlydir").is_dir()


def test_ctrl_c_and_sigterm_stop_the_demo_in_order(data_dir: Path) -> None:
    ports = pinned_ports(data_dir)
    api = f"http://127.0.0.1:{ports['api']}"

    # Ctrl-C: the terminal sends SIGINT to every process of the foreground job's group.
    process, output = start_dev(data_dir, ports["api"], "--demo", "--history-days", "0")
    key = wait_key(process, output, 90)
    runs = wait_for(lambda: get_json(f"{api}/v1/summary", key)["runs"], 30, "live runs")
    pids = stack_pids(process, data_dir)
    assert os.getpgid(process.pid) == process.pid
    os.killpg(process.pid, signal.SIGINT)
    assert finish(process, output, STOP_TIMEOUT_S) == 0, output.text
    assert "stopping (SIGINT)" in output.text
    assert_stopped_in_order(output.text)
    assert_nothing_left(pids, ports, data_dir)

    # Second start keeps the key and the runs; SIGTERM to the one process stops it too.
    process, output = start_dev(data_dir, ports["api"], "--demo", "--history-days", "0")
    assert wait_key(process, output, 60) == key
    assert get_json(f"{api}/v1/summary", key)["runs"] >= runs
    wait_line(process, output, r"runtally is running", 30)
    pids = stack_pids(process, data_dir)
    process.send_signal(signal.SIGTERM)
    assert finish(process, output, STOP_TIMEOUT_S) == 0, output.text
    assert "stopping (SIGTERM)" in output.text
    assert_stopped_in_order(output.text)
    assert_nothing_left(pids, ports, data_dir)


def test_ctrl_c_during_start_up_stops_what_was_started(data_dir: Path) -> None:
    ports = pinned_ports(data_dir)
    process, output = start_dev(data_dir, ports["api"], "--demo")
    wait_line(process, output, r"redis-server on", 60)
    pids = {process.pid, *descendants(process.pid)}
    os.killpg(process.pid, signal.SIGINT)
    assert finish(process, output, STOP_TIMEOUT_S) == 0, output.text
    assert "stopping during start-up (SIGINT)" in output.text
    assert "stopped redis-server" in output.text
    assert "API key" not in output.text
    assert "history:" not in output.text
    assert_nothing_left(pids, ports, data_dir)
