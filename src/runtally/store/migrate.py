"""Schema upgrades through Alembic, callable from code, the CLI and test fixtures."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from runtally.config import Settings


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for the packaged migrations and the settings' database."""
    config = Config()
    config.set_main_option("script_location", "runtally:migrations")
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url)
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(settings), revision)
