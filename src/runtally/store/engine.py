"""Postgres connections: one asyncpg pool per process, JSON codecs installed."""

from __future__ import annotations

import json

import asyncpg

from runtally.config import Settings
from runtally.errors import UserError, safe_url
from runtally.store.protocols import Connection, Pool


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: Settings, min_size: int = 1, max_size: int = 4) -> Pool:
    """An asyncpg pool for ``settings.database_url``; close it with ``await pool.close()``."""
    pool: Pool = await asyncpg.create_pool(
        settings.asyncpg_dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=120,
    )
    return pool


async def connect(settings: Settings) -> Connection:
    """One asyncpg connection with the same codecs as the pool's."""
    conn: Connection = await asyncpg.connect(settings.asyncpg_dsn, command_timeout=120)
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
