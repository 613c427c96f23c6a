"""The FastAPI application: ``create_app(settings)``.

The lifespan opens one asyncpg pool (lazily connecting, so the API starts, and /readyz
answers 503, while Postgres is still down) and one Redis client, and closes them.
``/`` serves the dashboard (``static/index.html``) when it is present.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from runtally.api import errors
from runtally.api.deps import Resources
from runtally.api.routes import ops, otlp, v1
from runtally.config import Settings
from runtally.store.engine import create_pool

STATIC = Path(__file__).parent / "static"
POOL_SIZE = 8


def create_app(settings: Settings) -> FastAPI:
    """A read API over ``settings``' Postgres and Redis."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every API statement runs in a request's transaction: nothing outlives it.
        pool = await create_pool(settings, min_size=0, max_size=POOL_SIZE, stateless=True)
        redis = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=5, socket_connect_timeout=2
        )
        app.state.resources = Resources(pool=pool, redis=redis)
        try:
            async with otlp.intake_lifespan(app, settings, redis):
                yield
        finally:
            await redis.aclose()
            await pool.close()

    app = FastAPI(
        title="runtally",
        version=version("runtally"),
        description="Runs, latency, reliability, tokens and cost of LLM agents. "
        "Every /v1 endpoint needs `Authorization: Bearer <key>` and sees only its project.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(v1.router)
    app.include_router(otlp.router)
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        index = STATIC / "index.html"
        if not index.is_file():
            return errors.error_response(404, "not_found", "dashboard not installed")
        return FileResponse(index)

    return app
