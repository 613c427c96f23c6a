"""Fixtures of the read-API tests: the app with its lifespan, an HTTP client, keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runtally.api.app import create_app
from runtally.api.keys import create_key
from runtally.config import Settings


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions: an unhandled error fails the test instead of becoming a 500.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def new_key(pool: Any, project: str, name: str = "") -> str:
    async with pool.acquire() as conn:
        _, key = await create_key(conn, project, name)
    return key


@pytest.fixture
async def key(pool: Any) -> str:
    """A key of project ``demo``."""
    return await new_key(pool, "demo", "test")


@pytest.fixture
def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
