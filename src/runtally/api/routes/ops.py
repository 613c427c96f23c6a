"""Operations endpoints (no key): /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from runtally.api import scrape
from runtally.api.deps import Resources, get_resources, get_settings
from runtally.api.metrics import TIMEOUT_S, read_stats, render
from runtally.api.schemas import Health, Ready
from runtally.config import Settings
from runtally.store.protocols import Pool

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (checks nothing else)."""
    return Health(status="ok")


async def _probe(check: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(check, TIMEOUT_S)
    except Exception as exc:  # any failure means "not reachable"; say which
        return f"down: {type(exc).__name__}"
    return "ok"


async def _pg_ping(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await conn.fetchval("SELECT 1")


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
async def readyz(resources: Annotated[Resources, Depends(get_resources)]) -> Any:
    """200 when Postgres and Redis both answer, else 503 naming the one that does not."""
    postgres = await _probe(_pg_ping(resources.pool))
    redis = await _probe(resources.redis.ping())
    ready = postgres == redis == "ok"
    body = Ready(status="ready" if ready else "unavailable", postgres=postgres, redis=redis)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
async def metrics(
    request: Request,
    resources: Annotated[Resources, Depends(get_resources)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> Response:
    """Prometheus text: ingest counters, stream and group lag, dirty-hour age; runs,
    tokens and cost per project/agent/model (all time); alert states."""
    stats = await read_stats(resources.redis, resources.pool, settings)
    extra = await scrape.collectors(request.app.state, resources.pool, settings)
    return Response(render(stats, extra), media_type=CONTENT_TYPE_LATEST)
