"""An installed wheel finds its migrations: build it, install it in a fresh venv, migrate.

The fresh venv sees this venv's site-packages through a ``.pth`` line (so no dependency is
downloaded) and gets the wheel with ``--no-deps``. A plain path line in a ``.pth`` file
adds that folder to ``sys.path`` without running the ``.pth`` files inside it, so the
editable install's hook to ``src/`` stays out: the test checks that the ``runtally`` it
runs is the wheel's copy, then migrates an empty Postgres database with ``runtally migrate``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from runtally.devstack.servers import PostgresServer

pytestmark = pytest.mark.e2e

TABLES = {"agent_runs", "rollup_dirty", "rollup_hourly", "rollup_daily", "api_keys"}


def build_wheel(repo_root: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(repo_root)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("runtally-*.whl")
    return wheel


def fresh_venv(root: Path, wheel: Path) -> Path:
    """A venv without pip that sees our dependencies and holds the wheel; its bin folder."""
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    return root / "bin"


def isolated_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNTALLY_", "PYTHON"))}
    return {**env, "RUNTALLY_DATABASE_URL": database_url}


def alembic_head(repo_root: Path) -> str:
    config = Config()
    config.set_main_option("script_location", str(repo_root / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_installed_wheel_migrates_an_empty_database(
    repo_root: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    wheel = build_wheel(repo_root, tmp_path / "dist")
    bin_dir = fresh_venv(tmp_path / "venv", wheel)
    env = isolated_env(pg_server.dsn("wheel_empty"))
    pg_server.psql('DROP DATABASE IF EXISTS "wheel_empty"')
    pg_server.psql('CREATE DATABASE "wheel_empty"')

    show = "import runtally.store.migrate as m; print(m.runtally.__file__, m.migrations_dir())"
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", show],
        check=True, capture_output=True, text=True, cwd=tmp_path, env=env,
    ).stdout.split()  # fmt: skip
    site = tmp_path / "venv" / "lib"
    assert Path(where[0]).is_relative_to(site), f"imported {where[0]}, not the wheel's copy"
    assert Path(where[1]).is_relative_to(site), f"migrations from {where[1]}"

    result = subprocess.run(
        [str(bin_dir / "runtally"), "migrate"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "schema at head" in result.stdout

    version = pg_server.psql("SELECT version_num FROM alembic_version", "wheel_empty")
    assert version == alembic_head(repo_root)
    tables = pg_server.psql(
        "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'",
        "wheel_empty",
    ).split()
    assert set(tables) >= TABLES
    pg_server.psql('DROP DATABASE "wheel_empty" WITH (FORCE)')
