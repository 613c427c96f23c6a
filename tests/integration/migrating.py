"""What every migration test starts with: a new database at a given revision."""

from __future__ import annotations

from runtally.config import Settings
from runtally.devstack.servers import PostgresServer
from runtally.store.migrate import upgrade


def database_at(pg_server: PostgresServer, name: str, revision: str) -> tuple[str, Settings]:
    """A new database ``name`` on ``pg_server`` migrated up to ``revision``: its DSN and
    the settings that point at it."""
    pg_server.psql(f'CREATE DATABASE "{name}"')
    dsn = pg_server.dsn(name)
    settings = Settings(database_url=dsn)
    upgrade(settings, revision)
    return dsn, settings
