"""``runtally prices`` (the effective table) and ``runtally reprice`` (recompute costs)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from runtally.config import Settings
from runtally.constants import REPRICE_BATCH_ROWS
from runtally.errors import UserError
from runtally.pricing import PriceTable, load_price_table
from runtally.pricing.listing import render_table
from runtally.reprice.plan import Window
from runtally.reprice.report import Report
from runtally.reprice.run import Options, reprice
from runtally.store.engine import connect_for_cli


def _source(settings: Settings) -> str:
    return str(settings.prices_file) if settings.prices_file else "built-in"


def prices(
    model: Annotated[
        str | None, typer.Option(help="Show only the entry this name resolves to.")
    ] = None,
) -> None:
    """List the effective price table: models, prices, effective dates and its version."""
    settings = Settings()
    table = load_price_table(settings)
    try:
        typer.echo(render_table(table, _source(settings), model))
    except LookupError as exc:
        raise UserError(str(exc.args[0])) from None


def _day(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` as a date; anything else is a one-line ``UserError``."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise UserError(f"{option} must be a date YYYY-MM-DD, got {value!r}")


async def _run(settings: Settings, table: PriceTable, options: Options) -> Report:
    conn = await connect_for_cli(settings)
    try:
        return await reprice(conn, table, options, datetime.now(UTC))
    finally:
        await conn.close()


def reprice_command(
    from_: Annotated[
        str | None, typer.Option("--from", help="First day (UTC), YYYY-MM-DD.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day (UTC, included), YYYY-MM-DD.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Only runs of this model (or names it resolves to).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; change nothing.")
    ] = False,
    batch_rows: Annotated[
        int, typer.Option(min=1, help="Raw runs per transaction.")
    ] = REPRICE_BATCH_ROWS,
) -> None:
    """Recompute stored costs from the current price table (costs events carried stay)."""
    settings = Settings()
    first, last = _day(from_, "--from"), _day(to, "--to")
    if first and last and last < first:
        raise UserError(f"--to {last} is before --from {first}")
    table = load_price_table(settings)
    window = Window.of_dates(first, last, model)
    options = Options(window, not dry_run, batch_rows, settings.raw_retention_days)
    typer.echo(asyncio.run(_run(settings, table, options)).render())


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.command("prices")(prices)
    app.command("reprice")(reprice_command)
