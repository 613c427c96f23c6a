"""Commands of the devstack area: ``runtally dev`` and ``runtally simulate``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from runtally.config import Settings
from runtally.devstack.dev import run_dev
from runtally.devstack.fleet import FleetStats, simulate_until_stopped
from runtally.devstack.options import DEMO_HISTORY_DAYS, DevOptions
from runtally.devstack.shutdown import Shutdown
from runtally.errors import UserError


def dev(
    demo: bool = typer.Option(False, "--demo", help="also run a synthetic agent fleet"),
    duration: float | None = typer.Option(
        None, "--duration", min=1, help="stop after this many seconds (default: until Ctrl-C)"
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="where servers keep their data (default: RUNTALLY_DATA_DIR)"
    ),
    api_port: int | None = typer.Option(
        None, "--api-port", min=1, max=65535, help="API/dashboard port (default: 8000 if free)"
    ),
    agents: int = typer.Option(6, "--agents", min=1, max=500, help="demo fleet size"),
    rate: float = typer.Option(20.0, "--rate", min=0.1, help="demo events per second"),
    history_days: int | None = typer.Option(
        None,
        "--history-days",
        min=0,
        help=f"days of past runs published first (default {DEMO_HISTORY_DAYS} with --demo, else 0)",
    ),
) -> None:
    """The whole stack on this machine: private Redis and Postgres, ingest, scheduler, API."""
    settings = Settings()
    if history_days is not None and history_days >= settings.raw_retention_days:
        # Ingest refuses runs older than the raw retention: they would all be dead-lettered.
        raise UserError(
            f"--history-days must be below the raw retention ({settings.raw_retention_days} days)"
        )
    options = DevOptions(
        data_dir=data_dir or settings.data_dir,
        demo=demo,
        duration=duration,
        api_port=api_port,
        agents=agents,
        rate=rate,
        history_days=history_days,
    )
    raise typer.Exit(run_dev(options))


def simulate(
    agents: int = typer.Option(6, "--agents", min=1, max=500, help="number of agents"),
    rate: float = typer.Option(20.0, "--rate", min=0.1, help="events per second, in total"),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="stop after this many seconds (default: Ctrl-C)"
    ),
    project: str = typer.Option("default", "--project", help="project of the events"),
    seed: int | None = typer.Option(None, "--seed", help="random seed (reproducible fleet)"),
) -> None:
    """Publish synthetic run events from an agent fleet to the stream (RUNTALLY_REDIS_URL)."""
    settings = Settings()
    shutdown = Shutdown()
    shutdown.install()

    async def run() -> FleetStats:
        return await simulate_until_stopped(
            settings, shutdown.event(), agents=agents, rate=rate, duration=duration,
            project=project, seed=seed,
        )  # fmt: skip

    try:
        stats = asyncio.run(run())
    except OSError as exc:
        raise UserError(f"cannot publish to Redis: {exc}") from None
    finally:
        shutdown.uninstall()
    typer.echo(f"published {stats.published} events ({stats.failed} failed to publish)")


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.command("dev")(dev)
    app.command("simulate")(simulate)
