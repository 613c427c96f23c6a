"""``runtally scheduler`` (the arq worker) and ``runtally rollup`` (pending work once)."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
import typer
from redis.exceptions import RedisError

from runtally.config import Settings
from runtally.errors import UserError, safe_url
from runtally.rollup.jobs import run_pending
from runtally.rollup.scheduler import create_worker
from runtally.store.engine import connect_for_cli

logger = logging.getLogger("runtally.rollup")


async def _check_postgres(settings: Settings) -> None:
    conn = await connect_for_cli(settings)
    await conn.close()


async def _check_redis(settings: Settings) -> None:
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        raise UserError(f"cannot reach Redis at {safe_url(settings.redis_url)}: {exc}") from None
    finally:
        await client.aclose()


def scheduler() -> None:
    """Run the arq scheduler: roll dirty hours and days, partitions, retention.

    SIGTERM or SIGINT stop it cleanly: no new job starts, running jobs get
    ``RUNTALLY_SHUTDOWN_GRACE_S`` to finish, then are cancelled (their transactions roll
    back and the markers stay for the next run). Exits 0 either way.
    """
    settings = Settings()
    asyncio.run(_check_postgres(settings))
    asyncio.run(_check_redis(settings))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # arq takes the current event loop; give it a fresh one (asyncio.run closed its own).
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = create_worker(settings)
    try:
        worker.run()
    except asyncio.CancelledError:
        # arq's close() re-raises the cancellation of jobs still running after the grace
        # period; those are done now, so close again to release its connections.
        logger.warning(
            "jobs still running after the %g s grace period were cancelled; "
            "they run again next time",
            settings.shutdown_grace_s,
        )
        worker.tasks.clear()
        worker.loop.run_until_complete(worker.close())


def rollup() -> None:
    """Roll every dirty hour and day once, print a one-line summary, and exit."""
    settings = Settings()
    asyncio.run(_check_postgres(settings))
    typer.echo(asyncio.run(run_pending(settings)).summary())


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.command("scheduler")(scheduler)
    app.command("rollup")(rollup)
