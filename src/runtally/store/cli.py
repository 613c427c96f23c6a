"""``runtally migrate``: bring the schema up to date and create partitions ahead."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import typer

from runtally.config import Settings
from runtally.errors import UserError, safe_url
from runtally.store import partitions
from runtally.store.engine import connect
from runtally.store.migrate import upgrade


async def prepare_partitions(settings: Settings, today: datetime | None = None) -> list[str]:
    """Create raw partitions from retention start to ``partitions_ahead_days`` ahead."""
    day = (today or datetime.now(UTC)).date()
    conn = await connect(settings)
    try:
        created = await partitions.ensure_partitions(
            conn,
            day - timedelta(days=settings.raw_retention_days),
            day + timedelta(days=settings.partitions_ahead_days),
        )
    finally:
        await conn.close()
    return [partitions.partition_name(d) for d in created]


def migrate() -> None:
    """Apply Alembic migrations and create the raw partitions for the retention window."""
    settings = Settings()
    try:
        upgrade(settings)
        created = asyncio.run(prepare_partitions(settings))
    except OSError as exc:
        raise UserError(
            f"cannot reach Postgres at {safe_url(settings.database_url)}: {exc}"
        ) from None
    typer.echo(f"schema at head; {len(created)} partitions created")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
