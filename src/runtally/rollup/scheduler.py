"""The arq worker: cron schedule and ``WorkerSettings`` (thin; logic lives in ``jobs``).

Every cron job is ``unique``: arq enqueues each window under one job id, so with
several schedulers each window runs once. Overlapping runs (a slow window and the
next) are still safe: hours and days are claimed with advisory locks.
"""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker
from arq.worker import create_worker as arq_create_worker

from runtally import constants
from runtally.alerts.deliver import HttpPoster
from runtally.config import Settings
from runtally.rollup import jobs
from runtally.store.engine import create_pool


def cron_fields(interval_s: int) -> dict[str, set[int]]:
    """arq cron ``second``/``minute`` sets that fire about every ``interval_s`` seconds.

    Below a minute: the seconds 0, interval, 2*interval... of every minute (a last gap
    shorter than the interval when it does not divide 60). From a minute up: every
    ``round(interval_s / 60)`` minutes at second 0.
    """
    if interval_s < 1:
        raise ValueError("interval must be at least 1 second")
    if interval_s < 60:
        return {"second": set(range(0, 60, interval_s))}
    minutes = min(60, round(interval_s / 60))
    return {"minute": set(range(0, 60, minutes)), "second": {0}}


async def startup(ctx: dict[str, Any]) -> None:
    """Open the process's Postgres pool and the alerts' webhook client."""
    ctx["pool"] = await create_pool(ctx["settings"], min_size=1, max_size=4)
    ctx["poster"] = HttpPoster(ctx["settings"].alerts_delivery_timeout_s)


async def shutdown(ctx: dict[str, Any]) -> None:
    poster = ctx.pop("poster", None)
    if poster is not None:
        await poster.aclose()
    pool = ctx.pop("pool", None)
    if pool is not None:
        await pool.close()


def worker_settings(settings: Settings) -> type:
    """An arq ``WorkerSettings`` class for ``settings``."""
    hours = cron_fields(settings.rollup_interval_s)
    days = cron_fields(settings.rollup_days_interval_s)
    alerts = cron_fields(settings.alerts_interval_s)
    # arq types a job's ctx as a plain dict; ours are typed by ``jobs.JobContext``.
    cron_jobs = [
        cron(jobs.job_roll_hours, name=constants.CRON_ROLL_HOURS, **hours),  # type: ignore[arg-type]
        cron(jobs.job_roll_days, name=constants.CRON_ROLL_DAYS, **days),  # type: ignore[arg-type]
        cron(
            jobs.job_partitions,  # type: ignore[arg-type]
            name=constants.CRON_PARTITIONS,
            minute={constants.MINUTE_OF_PARTITIONS},
            run_at_startup=True,
        ),
        cron(
            jobs.job_retention,  # type: ignore[arg-type]
            name=constants.CRON_RETENTION,
            minute={constants.MINUTE_OF_RETENTION},
        ),
        cron(jobs.job_alerts, name=constants.CRON_ALERTS, **alerts),  # type: ignore[arg-type]
    ]
    attributes: dict[str, Any] = {
        "cron_jobs": cron_jobs,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.arq_queue,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "timezone": UTC,
        "keep_result": 0,
        "max_jobs": 4,
        "job_timeout": 600,
        # On SIGTERM/SIGINT: pick no new job, let running ones finish within the grace
        # period, then cancel them (their transactions roll back; markers stay).
        "job_completion_wait": math.ceil(settings.shutdown_grace_s),
    }
    return type("WorkerSettings", (), attributes)


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq ``Worker`` for ``settings`` (``handle_signals=False`` to embed it in a loop)."""
    return arq_create_worker(worker_settings(settings), **overrides)
