"""Commands of the devstack area: ``runtally dev`` and ``runtally simulate``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from runtally.config import Settings
from runtally.devstack.dev import DevOptions, run_dev
from runtally.devstack.simulate import simulate_until_stopped
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
) -> None:
    """The whole stack on this machine: private Redis and Postgres, ingest, scheduler, API."""
    settings = Settings()
    options = DevOptions(
        data_dir=data_dir or settings.data_dir,
        demo=demo,
        duration=duration,
        api_port=api_port,
        agents=agents,
        rate=rate,
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
    try:
        stats = asyncio.run(
            simulate_until_stopped(
                settings, agents=agents, rate=rate, duration=duration, project=project, seed=seed
            )
        )
    except OSError as exc:
        raise UserError(f"cannot publish to Redis: {exc}") from None
    typer.echo(f"published {stats.published} events ({stats.failed} failed to publish)")


def register(app: typer.Typer) -> None:
    """Register this area's commands on the top-level app."""
    app.command("dev")(dev)
    app.command("simulate")(simulate)
