"""`runtally dev --demo` brings the whole system up, serves live numbers and stops cleanly.

Runs the real command as a user would, with a temp data folder and free ports, then
starts it again to check that the data and the dev key survive a restart and that a
SIGINT (Ctrl-C) takes the same clean shutdown path.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from runtally.devstack.children import CLI
from runtally.devstack.servers import free_port
from tests.e2e.helpers import get_json, wait_for

pytestmark = pytest.mark.e2e

KEY_LINE = re.compile(r"API key: (rt_[A-Za-z0-9_-]+)")


class Output:
    """Collects a process's output lines in a thread, so the test can wait for one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def key(self) -> str | None:
        match = KEY_LINE.search(self.text)
        return match.group(1) if match else None


def clean_env() -> dict[str, str]:
    """The environment without RUNTALLY_* (the dev stack must need no configuration)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNTALLY_")}
    return {**env, "COLUMNS": "100", "PYTHONUNBUFFERED": "1"}


def start_dev(data_dir: Path, api_port: int, *extra: str) -> tuple[subprocess.Popen[str], Output]:
    process = subprocess.Popen(
        [*CLI, "dev", "--data-dir", str(data_dir), "--api-port", str(api_port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(),
    )
    return process, Output(process)


def wait_key(process: subprocess.Popen[str], output: Output, timeout: float) -> str:
    """The printed API key; fails at once (with the output) if the process exits first."""

    def key() -> str | None:
        found = output.key()
        if found is None and process.poll() is not None:
            output.thread.join(5)
            raise AssertionError(f"runtally dev exited {process.returncode}:\n{output.text}")
        return found

    found: str = wait_for(key, timeout, "the API key in the output")
    return found


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def finish(process: subprocess.Popen[str], output: Output, timeout: float) -> int:
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"runtally dev did not stop:\n{output.text}") from None
    output.thread.join(5)
    return code


def test_dev_demo_runs_the_whole_system_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "dev"
    data_dir.mkdir()
    # Saved ports are preferred by `runtally dev`: this pins the servers to free ports.
    ports = {"redis": free_port(), "postgres": free_port(), "api": free_port()}
    (data_dir / "ports.json").write_text(json.dumps(ports))
    api = f"http://127.0.0.1:{ports['api']}"

    process, output = start_dev(data_dir, ports["api"], "--demo", "--duration", "30")
    key = wait_key(process, output, 90)
    assert f"Dashboard: {api}/#key={key}" in output.text

    runs = wait_for(
        lambda: get_json(f"{api}/v1/summary", key)["runs"], 30, "stored runs from the demo fleet"
    )
    assert runs > 0
    assert get_json(f"{api}/v1/breakdown?by=agent", key)["rows"]

    code = finish(process, output, 90)
    assert code == 0, output.text
    assert "stopped cleanly" in output.text
    assert "summary" in output.text
    assert not (data_dir / "postgres" / "pgdata" / "postmaster.pid").exists(), output.text
    for name, port in ports.items():
        assert not listening(port), f"{name} port {port} still open after runtally dev exited"
    assert (data_dir / "postgres" / "pgdata" / "PG_VERSION").exists()
    assert (data_dir / "redis" / "appendonlydir").is_dir()

    # Second start: same key, the runs are still there, and Ctrl-C stops it cleanly.
    process, output = start_dev(data_dir, ports["api"])
    assert wait_key(process, output, 60) == key
    assert get_json(f"{api}/v1/summary", key)["runs"] >= runs
    process.send_signal(signal.SIGINT)
    assert finish(process, output, 60) == 0, output.text
    for name, port in ports.items():
        assert not listening(port), name
