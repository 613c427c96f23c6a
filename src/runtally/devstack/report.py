"""What ``runtally dev`` prints: access details, progress lines and the final summary.

The key and URL lines are printed without wrapping (``soft_wrap``), so tools and tests
can read them whatever the terminal width: ``API key: rt_…`` and ``Dashboard: http…``.
"""

from __future__ import annotations

import signal
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from runtally.devstack.children import Child
    from runtally.devstack.fleet import FleetStats
    from runtally.devstack.options import Outcome


def print_access(console: Console, api_url: str, key: str) -> None:
    console.print()
    console.print(f"[bold]API key:[/] {key}", soft_wrap=True)
    console.print(f"[bold]Dashboard:[/] {api_url}/#key={key}", soft_wrap=True)
    console.print(f"[bold]API docs:[/] {api_url}/docs", soft_wrap=True)
    console.print(
        f'[dim]try: curl -H "Authorization: Bearer {key}" {api_url}/v1/summary[/]', soft_wrap=True
    )
    console.print()


def print_fleet(console: Console, agents: int, rate: float) -> None:
    console.print(f"[green]✓[/] demo fleet: {agents} agents publishing ~{rate:g} runs/s")


def print_history_start(console: Console, days: int, total: int) -> None:
    console.print(f"history: publishing {total:,} runs of the last {days} days…", highlight=False)


def history_published(console: Console, published: int, total: int) -> None:
    console.print(f"history: published {published:,}/{total:,}", highlight=False)


def history_storing(console: Console, left: int) -> None:
    console.print(f"history: {left:,} runs still to store", highlight=False)


def print_history_done(
    console: Console, published: int, start: datetime, end: datetime, stored: bool
) -> None:
    """The history line; tools read ``history: N runs from START to END stored``."""
    span = f"{published:,} runs from {start.isoformat()} to {end.isoformat()}"
    if stored:
        console.print(f"[green]✓[/] history: {span} stored", highlight=False, soft_wrap=True)
    else:
        console.print(f"[yellow]history: {span} published, not all stored yet[/]", soft_wrap=True)


def print_running(console: Console, duration: float | None) -> None:
    until = f"for {duration:g}s" if duration is not None else "until Ctrl-C"
    console.print(f"[bold green]runtally is running[/] {until}")


def print_crash(console: Console, child: Child) -> None:
    console.print(f"[bold red]{child.name} exited with code {child.exit_code()}[/]; its log:")
    console.print(child.log_tail(), markup=False, highlight=False)


def print_stopping(console: Console, reason: str | None) -> None:
    why = f" ({reason})" if reason else ""
    console.print(f"[yellow]stopping{why}: fleet, stream, processes, servers…[/]")


def print_step(console: Console, what: str) -> None:
    """One finished shutdown step; the lines show the order things stopped in."""
    console.print(f"[green]✓[/] {what}", highlight=False)


def print_drained(console: Console, left: int) -> None:
    """The drain step: done, or what is left (kept in Redis for the next start)."""
    if left == 0:
        print_step(console, "drained the stream")
    elif left > 0:
        console.print(f"[yellow]stopped draining: {left:,} stream entries left in Redis[/]")
    else:
        console.print("[yellow]stopped draining: Redis did not answer[/]")


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def progress_line(summary: dict[str, Any] | None, fleet: FleetStats | None) -> str:
    """One status line from a /v1/summary answer (and the fleet's count, if any)."""
    stamp = datetime.now().strftime("%H:%M:%S")
    if summary is None:
        return f"{stamp}  API not answering"
    latency = summary.get("latency_ms", {})
    parts = [
        f"runs {summary['runs']:,}",
        f"success {_fmt_rate(summary.get('success_rate'))}",
        f"p95 {_fmt_ms(latency.get('p95'))}",
        f"tokens {summary['tokens']['total']:,}",
        f"cost ${summary['cost_usd']:,.2f}",
    ]
    if fleet is not None:
        parts.append(f"published {fleet.published:,}")
    return f"{stamp}  " + " · ".join(parts) + "  (last 24 h)"


def print_progress(
    console: Console, summary: dict[str, Any] | None, fleet: FleetStats | None
) -> None:
    console.print(progress_line(summary, fleet), highlight=False, soft_wrap=True)


def _state(code: int | None) -> str:
    if code is None:
        return "[green]stopped[/]"
    if code == 0:
        return "[green]stopped (exit 0)[/]"
    if code == -signal.SIGTERM:
        # Our SIGTERM; uvicorn re-raises it after a graceful shutdown.
        return "[green]stopped (SIGTERM)[/]"
    if code < 0:
        return f"[red]killed (signal {-code})[/]"
    return f"[red]exit {code}[/]"


def print_summary(console: Console, outcome: Outcome, code: int) -> None:
    """The final table: each component, where it ran, how it stopped; then the totals."""
    table = Table(title="runtally dev — summary", title_justify="left")
    for column in ("component", "address / files", "state"):
        table.add_column(column)
    for row in _rows(outcome):
        table.add_row(*row)
    console.print(table)
    summary = outcome.summary
    if summary is not None:
        console.print(
            f"stored runs (last 24 h): {summary['runs']:,} · cost ${summary['cost_usd']:,.2f}"
        )
    if outcome.undrained > 0:
        console.print(
            f"[yellow]{outcome.undrained} stream entries not yet stored; "
            "they are kept in Redis and stored on the next start[/]"
        )
    verdict = "[green]stopped cleanly[/]" if code == 0 else f"[red]exit code {code}[/]"
    console.print(f"{verdict}; data kept in {outcome.data_dir} for the next start")


def _rows(outcome: Outcome) -> list[tuple[str, str, str]]:
    ports = outcome.ports
    rows = []
    if "redis" in ports and "postgres" in ports:
        pg_state = "[green]stopped[/]" if outcome.postgres_stopped else "[red]still running[/]"
        rows.append(("redis-server", f"127.0.0.1:{ports['redis']} (AOF)", "[green]stopped[/]"))
        rows.append(("postgres", f"127.0.0.1:{ports['postgres']}", pg_state))
    for name, exit_code in outcome.exit_codes.items():
        where = f"http://127.0.0.1:{ports['api']}" if name == "api" else f"logs/{name}.log"
        rows.append((name, where, _state(exit_code)))
    fleet = outcome.fleet
    if fleet is not None:
        rows.append(("demo fleet", f"{fleet.published:,} events published", "[green]stopped[/]"))
    return rows
