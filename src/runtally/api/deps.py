"""Request dependencies: shared resources, API-key authentication, the read snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from runtally.api.errors import unauthorized
from runtally.api.keys import verify_key, well_formed
from runtally.config import Settings
from runtally.store.protocols import Connection, Pool

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer rt_…` (create one with `runtally keys create`)",
)


@dataclass
class Resources:
    """What the lifespan opens: the asyncpg pool and the Redis client."""

    pool: Pool
    redis: Redis


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


@dataclass(frozen=True)
class Reader:
    """An authenticated request: its project and a connection inside one
    REPEATABLE READ READ ONLY transaction (markers, rollups and raw rows from one
    snapshot, so a rollup committing meanwhile neither hides nor doubles anything)."""

    conn: Connection
    project: str


def presented_key(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The bearer key of a request, or a 401 ``ApiError`` when it is missing or malformed."""
    if credentials is None:
        raise unauthorized("missing header `Authorization: Bearer <key>`")
    if not well_formed(credentials.credentials):
        raise unauthorized("malformed API key")
    return credentials.credentials


async def project_of(conn: Connection, key: str) -> str:
    """The project of a well-formed ``key``, or a 401 ``ApiError`` for an unknown one."""
    project = await verify_key(conn, key)
    if project is None:
        raise unauthorized("unknown or revoked API key")
    return project


async def reader(
    resources: Annotated[Resources, Depends(get_resources)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AsyncIterator[Reader]:
    """Authenticate the bearer key and open the request's snapshot transaction."""
    key = presented_key(credentials)
    async with (
        resources.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        yield Reader(conn, await project_of(conn, key))


async def writer(
    resources: Annotated[Resources, Depends(get_resources)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AsyncIterator[Reader]:
    """Authenticate the bearer key and open the request's read-write transaction."""
    key = presented_key(credentials)
    async with resources.pool.acquire() as conn, conn.transaction():
        yield Reader(conn, await project_of(conn, key))
