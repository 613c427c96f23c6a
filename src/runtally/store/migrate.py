"""Schema upgrades through Alembic, callable from code, the CLI and test fixtures.

The Alembic home is the repository's top-level ``migrations/`` folder. A wheel carries a
copy of it as ``runtally/migrations`` (hatch ``force-include``), so an installed runtally
(pip, the Docker image) migrates from that copy; a source checkout or an editable install
has no such copy and migrates from the top-level folder itself.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import runtally
from runtally.config import Settings
from runtally.errors import UserError

# Inside an installed wheel: site-packages/runtally/migrations.
PACKAGED = Path(runtally.__file__).resolve().parent / "migrations"
# In a source checkout: <repo>/src/runtally/__init__.py → <repo>/migrations.
CHECKOUT = Path(runtally.__file__).resolve().parents[2] / "migrations"


def migrations_dir(candidates: tuple[Path, ...] = (PACKAGED, CHECKOUT)) -> Path:
    """The first candidate folder that holds an Alembic ``env.py``.

    Raises ``UserError`` naming every place looked at when none does (a broken install),
    rather than letting Alembic fail with a less useful message.
    """
    for folder in candidates:
        if (folder / "env.py").is_file():
            return folder
    looked = ", ".join(str(folder) for folder in candidates)
    raise UserError(f"no Alembic migrations found (looked in {looked}); reinstall runtally")


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for runtally's migrations and the settings' database."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url)
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(settings), revision)
