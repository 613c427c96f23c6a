"""Child processes of the benchmarks: ``runtally`` commands, RSS sampling, stream progress."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import redis.asyncio as aioredis

from bench.harness import Stack

RUNTALLY = [sys.executable, "-m", "runtally"]


def runtally_command() -> list[str]:
    """How to start ``runtally``: the venv's console script, else the module."""
    script = Path(sys.executable).with_name("runtally")
    return [str(script)] if script.exists() else RUNTALLY


@contextlib.contextmanager
def running(
    stack: Stack,
    args: Sequence[str],
    count: int = 1,
    log_dir: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``runtally <args>`` processes on ``stack``; SIGTERM (then kill) on exit."""
    procs = []
    logs = []
    folder = log_dir or stack.root
    for i in range(count):
        log = open(folder / f"{'-'.join(args)}-{i}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [*runtally_command(), *args],
                env=stack.env(**(env or {})),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        yield procs
    finally:
        stop(procs, 30)
        for log in logs:
            log.close()


def stop(procs: Sequence[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every one of ``procs`` still running, then kill those not gone after
    ``grace`` seconds each."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(stack: Stack, args: Sequence[str], i: int = 0, chars: int = 1500) -> str:
    path = stack.root / f"{'-'.join(args)}-{i}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of ``pid`` in KiB from /proc (empty when the process is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the ")" closing the command name: state is field 0, utime 11, stime 12.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def acked(client: aioredis.Redis, stream: str, group: str) -> int | None:
    """Entries of ``stream`` the group has acknowledged: read − pending (None if unknown)."""
    try:
        groups = await client.xinfo_groups(stream)
    except aioredis.ResponseError:
        return None
    for info in groups:
        name = info["name"]
        if (name.decode() if isinstance(name, bytes) else name) == group:
            read = info.get("entries-read")
            if read is None:
                return None
            return int(read) - int(info["pending"])
    return None


async def wait_acked(
    client: aioredis.Redis,
    stream: str,
    group: str,
    total: int,
    timeout: float,
    procs: Sequence[subprocess.Popen[bytes]] = (),
    interval: float = 0.01,
    stall_s: float = 30.0,
) -> list[tuple[float, int]]:
    """Sample (monotonic time, acked) until ``total`` are acked; stops at ``timeout``,
    after ``stall_s`` without progress, or when every process in ``procs`` has exited."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    progress_at, last = time.monotonic(), -1
    while time.monotonic() < deadline:
        done = await acked(client, stream, group)
        now = time.monotonic()
        if done is not None:
            samples.append((now, done))
            if done >= total:
                break
            if done != last:
                progress_at, last = now, done
        if now - progress_at > stall_s:
            break
        if procs and all(p.poll() is not None for p in procs):
            break
        await asyncio.sleep(interval)
    return samples


def window_rate(samples: Sequence[tuple[float, int]], total: int, lo: float, hi: float) -> float:
    """Rate between the first samples reaching ``lo`` and ``hi`` fractions of ``total``."""
    start = next((s for s in samples if s[1] >= lo * total), None)
    end = next((s for s in samples if s[1] >= hi * total), None)
    if start is None or end is None or end[0] <= start[0]:
        return float("nan")
    return (end[1] - start[1]) / (end[0] - start[0])
