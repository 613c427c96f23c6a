"""Commands of the ingest area: ``runtally ingest`` and ``runtally dead list|replay``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from runtally.config import Settings
from runtally.errors import UserError, safe_url
from runtally.ingest import deadletter
from runtally.ingest.processes import supervise
from runtally.ingest.worker import install_signals, load_prices, redis_client, serve

T = TypeVar("T")
dead_app = typer.Typer(help="Inspect and replay dead-lettered entries.", no_args_is_help=True)


def ingest(
    processes: int = typer.Option(
        None,
        "--processes",
        min=1,
        help="Consumer processes in the group (default: the number of cores). "
        "1 runs the consumer in this process.",
    ),
) -> None:
    """Consume the run-event stream into Postgres (stop with SIGTERM or Ctrl-C)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings()
    count = processes or os.cpu_count() or 1
    if count == 1:
        asyncio.run(serve(settings))
        return
    load_prices(settings)  # a bad prices file fails here once, not in every child
    raise typer.Exit(asyncio.run(_supervise(settings, count)))


async def _supervise(settings: Settings, count: int) -> int:
    stop = asyncio.Event()
    install_signals(stop)
    return await supervise(settings, count, stop)


def _with_redis(work: Callable[[Redis, Settings], Awaitable[T]]) -> T:
    settings = Settings()

    async def main() -> T:
        client = redis_client(settings)
        try:
            return await work(client, settings)
        finally:
            await client.aclose()

    try:
        return asyncio.run(main())
    except RedisConnectionError as exc:
        raise UserError(f"cannot reach Redis at {safe_url(settings.redis_url)}: {exc}") from None


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@dead_app.command("list")
def dead_list(
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (oldest first)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """List dead-lettered entries with their reason."""
    entries = _with_redis(lambda c, s: deadletter.list_dead(c, s, limit))
    if as_json:
        for dead in entries:
            typer.echo(json.dumps(dead.as_json(), ensure_ascii=False))
        return
    if not entries:
        typer.echo("no dead entries")
        return
    for dead in entries:
        data = "<no data field>" if dead.data is None else dead.data.decode("utf-8", "replace")
        typer.echo(
            f"{dead.id}  source {dead.source_id}  deliveries {dead.deliveries}  {dead.dead_at}\n"
            f"  reason: {_short(dead.reason, 300)}\n  data:   {_short(data, 200)}"
        )


@dead_app.command("replay")
def dead_replay(
    ids: list[str] = typer.Argument(None, help="Dead entry ids (see `runtally dead list`)."),
    everything: bool = typer.Option(False, "--all", help="Replay every dead entry."),
    reason_contains: str = typer.Option(
        None, "--reason-contains", help="Only entries whose reason contains this text."
    ),
) -> None:
    """Re-publish dead entries' original payloads to the stream and remove them."""

    async def work(client: Redis, settings: Settings) -> deadletter.ReplayResult:
        chosen = await deadletter.select_dead(
            client, settings, ids or [], everything, reason_contains
        )
        return await deadletter.replay(client, settings, chosen)

    result = _with_redis(work)
    for dead_id, why in result.skipped.items():
        typer.echo(f"skipped {dead_id}: {why}", err=True)
    typer.echo(f"replayed {len(result.replayed)} entries")


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.command("ingest")(ingest)
    app.add_typer(dead_app, name="dead")
