"""``runtally alerts list|create|delete|check``: rules from the shell, one pass for cron."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from runtally.alerts import store
from runtally.alerts.deliver import HttpPoster
from runtally.alerts.engine import run_pass
from runtally.alerts.rules import RuleSpec
from runtally.alerts.schemas import describe
from runtally.api.keys import PROJECT_PATTERN
from runtally.config import Settings
from runtally.errors import UserError, safe_url
from runtally.store.engine import create_pool
from runtally.store.protocols import Connection, Pool

T = TypeVar("T")

alerts_app = typer.Typer(help="Alert rules: list, create, delete, check.", no_args_is_help=True)


async def _with_pool(settings: Settings, work: Callable[[Pool], Awaitable[T]]) -> T:
    try:
        pool = await create_pool(settings, min_size=1, max_size=4)
    except Exception as exc:  # one line for the user, whatever the driver raised
        raise UserError(
            f"cannot connect to Postgres at {safe_url(settings.database_url)} "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    try:
        return await work(pool)
    finally:
        await pool.close()


def _run(work: Callable[[Pool], Awaitable[T]], settings: Settings | None = None) -> T:
    return asyncio.run(_with_pool(settings or Settings(), work))


async def _conn_do(pool: Pool, work: Callable[[Connection], Awaitable[T]]) -> T:
    async with pool.acquire() as conn:
        return await work(conn)


def _state_summary(states: list[store.StoredState]) -> str:
    if not states:
        return "-"
    return ",".join(
        f"{s.group or '*'}={s.state}" + (f"({s.value:g})" if s.value is not None else "")
        for s in states
    )


@alerts_app.command("list")
def list_(project: str | None = typer.Option(None, help="only this project's rules")) -> None:
    """List rules: id, project, name, condition, window, grouping, states."""

    async def work(conn: Connection) -> list[tuple[store.Rule, list[store.StoredState]]]:
        rules = await store.list_rules(conn, project)
        states = await store.states_of(conn, [r.id for r in rules])
        return [(r, [s for s in states if s.rule_id == r.id]) for r in rules]

    found = _run(lambda pool: _conn_do(pool, work))
    typer.echo("id\tproject\tname\tcondition\twindow\tgroup_by\tstates")
    for rule, states in found:
        s = rule.spec
        condition = f"{s.measure} {s.op} {s.threshold:g}"
        typer.echo(
            f"{rule.id}\t{rule.project}\t{s.name}\t{condition}\t{s.window}\t"
            f"{s.group_by or '-'}\t{_state_summary(states)}"
        )


def _spec(fields: dict[str, Any]) -> RuleSpec:
    try:
        return RuleSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise UserError(f"invalid rule: {describe(exc)}", exit_code=2) from None


@alerts_app.command("create")
def create(
    project: str = typer.Option(..., help="the project whose runs the rule watches"),
    name: str = typer.Option(..., help="a name people recognise"),
    measure: str = typer.Option(
        ..., help="cost_usd, runs, failures, error_rate, p95_latency_ms, p99_latency_ms or tokens"
    ),
    op: str = typer.Option(..., help="> >= < <="),
    threshold: float = typer.Option(..., help="alert when `measure op threshold`"),
    window: str = typer.Option(..., help="rolling window, 5m to 30d, e.g. 1h"),
    webhook_url: str = typer.Option(..., help="where notifications are POSTed"),
    warn_threshold: float | None = typer.Option(None, help="warn from this value"),
    min_runs: int | None = typer.Option(None, help="fewer runs in the window: no_data"),
    group_by: str | None = typer.Option(None, help="agent, model or user"),
    top_n: int | None = typer.Option(None, help="groups evaluated per pass (default 10)"),
    agent: str | None = typer.Option(None, help="only this agent's runs"),
    model: str | None = typer.Option(None, help="only this model's runs"),
    repeat_after: str | None = typer.Option(None, help="re-send while firing, e.g. 4h"),
) -> None:
    """Create a rule; prints its id and webhook signing secret (the secret is the last line)."""
    fields = dict(locals())
    if not PROJECT_PATTERN.match(fields.pop("project")):
        raise UserError(f"invalid project {project!r}: use 1-64 characters [A-Za-z0-9_.-]", 2)
    fields["filters"] = {"agent": fields.pop("agent"), "model": fields.pop("model")}
    spec = _spec(fields)
    rule = _run(lambda pool: _conn_do(pool, lambda c: store.create_rule(c, project, spec)))
    typer.echo(f"created alert rule {rule.id} ({spec.name}) for project {project}")
    typer.echo("webhook signing secret (X-Runtally-Signature: sha256=HMAC of the body):")
    typer.echo(rule.secret)


@alerts_app.command("delete")
def delete(rule_id: int = typer.Argument(..., help="rule id (from `alerts list`)")) -> None:
    """Delete a rule with its states and delivery log."""
    found = _run(lambda pool: _conn_do(pool, lambda c: store.delete_rule(c, None, rule_id)))
    if not found:
        raise UserError(f"no alert rule {rule_id}")
    typer.echo(f"deleted alert rule {rule_id}")


async def check_once(pool: Pool, settings: Settings) -> str:
    poster = HttpPoster(settings.alerts_delivery_timeout_s)
    try:
        stats = await run_pass(pool, settings, poster, lambda: datetime.now(UTC))
    finally:
        await poster.aclose()
    return stats.summary()


@alerts_app.command("check")
def check() -> None:
    """One pass: evaluate the rules due this interval, deliver due notifications, exit.

    Rules already evaluated in this interval (``RUNTALLY_ALERTS_INTERVAL_S``, by a
    scheduler or another check) are skipped, so running it from cron beside schedulers
    never evaluates a rule twice per interval.
    """
    settings = Settings()
    typer.echo(_run(lambda pool: check_once(pool, settings), settings))


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.add_typer(alerts_app, name="alerts")
