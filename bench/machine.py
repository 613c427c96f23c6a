"""The machine and software a run measured: cores, memory, CPU, versions, date."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata

from runtally.devstack.servers import PG_SEARCH, REDIS_SEARCH, find_binary


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _binary_version(name: str, search: tuple[str, ...], args: list[str]) -> str:
    try:
        binary = find_binary(name, search)
        out = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        return f"unavailable ({exc})"
    return out.stdout.strip()


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """Ordered facts for the header of BENCHMARKS.md."""
    redis = _binary_version("redis-server", REDIS_SEARCH, ["--version"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores (nproc)": str(os.cpu_count()),
        "memory": _memory_gib(),
        "CPU": _cpu_model(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "Redis": redis.split(" sha=")[0],
        "Postgres": _binary_version("postgres", PG_SEARCH, ["--version"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "redis-py / asyncpg / pydantic": " / ".join(
            _package(p) for p in ("redis", "asyncpg", "pydantic")
        ),
    }
