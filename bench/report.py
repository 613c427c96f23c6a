"""Render a run as BENCHMARKS.md: machine, server settings, one table per benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.harness import Figure, fmt

HEADER = """# runtally benchmarks

Written by `make bench` (`python -m bench`). Every benchmark starts its own private
redis-server and PostgreSQL under a temporary folder and migrates it, so nothing else
shares those servers; the machine itself may be shared (see the load average).
**Limits are measured in the same run** as the figures they are compared with, so the
ratio column compares like with like on this machine. Benchmarks never fail on timing.

"""

SETTINGS_TEXT = """Servers: `RedisServer(appendonly=False)` (no AOF, no RDB snapshots) and
`PostgresServer(durable=True)` (fsync on, synchronous_commit on, full_page_writes on), as
started by `runtally.devstack.servers`; runtally settings are the defaults unless a
section says otherwise."""


def _table(figures: Sequence[Figure]) -> list[str]:
    lines = [
        "| figure | value | target | verdict | limit (same run) | ratio to limit |",
        "|---|---:|---|---|---|---:|",
    ]
    for fig in figures:
        target = fig.target.describe() + f" {fig.unit}" if fig.target else ""
        limit = f"{fig.limit.name}: {fmt(fig.limit.value)} {fig.limit.unit}" if fig.limit else ""
        ratio = f"{fig.ratio:.2f}" if fig.ratio is not None else ""
        name = fig.name + (f" — {fig.note}" if fig.note else "")
        lines.append(
            f"| {name} | {fmt(fig.value)} {fig.unit} | {target} | {fig.verdict} "
            f"| {limit} | {ratio} |"
        )
    return lines


def render(
    machine: Mapping[str, str],
    server_settings: Mapping[str, str],
    figures: Sequence[Figure],
    notes: Mapping[str, Sequence[str]],
    run: Mapping[str, str],
    titles: Mapping[str, str],
) -> str:
    """The whole markdown document for one run."""
    lines = [HEADER.rstrip(), "", "## Machine", ""]
    lines += [f"- **{k}**: {v}" for k, v in machine.items()]
    lines += [f"- **{k}**: {v}" for k, v in run.items()]
    lines += ["", "## Server settings", "", SETTINGS_TEXT, ""]
    lines += [f"- {k}: `{v}`" for k, v in server_settings.items()]
    for bench, title in titles.items():
        mine = [f for f in figures if f.bench == bench]
        if not mine and bench not in notes:
            continue
        lines += ["", f"## {title}", ""]
        if mine:
            lines += _table(mine)
            lines.append("")
        lines += [f"- {text}" for text in notes.get(bench, [])]
    return "\n".join(lines).rstrip() + "\n"


ANALYSIS = Path(__file__).with_name("analysis.md")


def with_analysis(text: str) -> str:
    """``text`` followed by the hand-written profile notes (bench/analysis.md), if any."""
    if not ANALYSIS.is_file():
        return text
    return text + "\n" + ANALYSIS.read_text()


def write(path: Path, text: str) -> None:
    path.write_text(text)
    print(f"wrote {path}", flush=True)
