"""Postgres connections: one asyncpg pool per process, JSON codecs installed."""

from __future__ import annotations

import json

import asyncpg

from runtally.config import Settings
from runtally.constants import PG_SERVER_SETTINGS
from runtally.errors import UserError, safe_url
from runtally.store.protocols import Connection, Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _rolled_back(conn: asyncpg.Connection) -> None:
    """Nothing to reset: asyncpg has already rolled back any open transaction."""


async def create_pool(
    settings: Settings, min_size: int = 1, max_size: int = 4, stateless: bool = False
) -> Pool:
    """An asyncpg pool for ``settings.database_url``; close it with ``await pool.close()``.

    ``stateless``: its users keep no session state past a transaction (no session-level
    ``SET``, ``LISTEN``, advisory lock or cursor outside one), so a released connection
    is only rolled back, without asyncpg's reset statement (a round trip per request)."""
    pool: Pool = await asyncpg.create_pool(
        settings.asyncpg_dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_rolled_back if stateless else None,
        command_timeout=120,
        server_settings=PG_SERVER_SETTINGS,
    )
    return pool


async def connect(settings: Settings) -> Connection:
    """One asyncpg connection with the same codecs as the pool's."""
    conn: Connection = await asyncpg.connect(
        settings.asyncpg_dsn, command_timeout=120, server_settings=PG_SERVER_SETTINGS
    )
    await _init_connection(conn)
    return conn


async def connect_for_cli(settings: Settings) -> Connection:
    """``connect``, or a ``UserError`` naming the (password-less) URL when Postgres is down."""
    try:
        return await connect(settings)
    except (OSError, asyncpg.PostgresError) as exc:
        raise UserError(
            f"cannot reach Postgres at {safe_url(settings.database_url)}: {exc}"
        ) from None
