"""docker-compose.yml matches the real CLI, settings and start-up order.

No Docker engine runs here, so the file is checked against the code: every service
command is a real ``runtally`` subcommand with real options, every ``RUNTALLY_*``
variable is a ``Settings`` field, and the dependencies start things in the right order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from runtally.cli import app
from runtally.config import Settings

RUNTALLY_SERVICES = ("migrate", "ingest", "scheduler", "api")
LONG_RUNNING = ("ingest", "scheduler", "api")


@pytest.fixture(scope="module")
def compose(repo_root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def cli() -> dict[str, Any]:
    """``runtally``'s subcommands by name (the click command Typer builds)."""
    commands: dict[str, Any] = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert commands
    return commands


def runtally_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services built from this repository's image (they run the ``runtally`` entry point)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("image") == "runtally:latest" or "build" in svc
    }


def test_the_expected_services_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "postgres", *RUNTALLY_SERVICES} <= set(services)
    assert set(RUNTALLY_SERVICES) <= set(runtally_services(compose))


def test_every_command_is_a_real_subcommand_with_real_options(
    compose: dict[str, Any], cli: dict[str, Any]
) -> None:
    for name, svc in runtally_services(compose).items():
        command = svc["command"]
        assert isinstance(command, list), f"{name}: use the exec form (a list)"
        sub = cli.get(command[0])
        assert sub is not None, f"{name}: `runtally {command[0]}` does not exist"
        known = {opt for param in sub.params for opt in getattr(param, "opts", [])}
        for arg in command[1:]:
            if arg.startswith("-"):
                assert arg.split("=")[0] in known, f"{name}: `{command[0]}` has no option {arg}"


def test_every_runtally_variable_is_a_settings_field(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    seen = set()
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment as a mapping"
        for var in env:
            if var.startswith("RUNTALLY_"):
                seen.add(var)
                assert var.removeprefix("RUNTALLY_").lower() in fields, f"{name}: {var}"
    assert {"RUNTALLY_REDIS_URL", "RUNTALLY_DATABASE_URL"} <= seen


def test_the_database_url_matches_the_postgres_service(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]["environment"]
    expected = Settings(
        database_url=f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{pg['POSTGRES_DB']}"
    ).database_url
    for name in RUNTALLY_SERVICES:
        url = compose["services"][name]["environment"]["RUNTALLY_DATABASE_URL"]
        assert Settings(database_url=url).database_url == expected, name


def test_start_up_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("redis", "postgres", "api"):
        assert "healthcheck" in services[name], f"{name} needs a healthcheck"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in LONG_RUNNING:
        deps = services[name]["depends_on"]
        assert deps["redis"]["condition"] == "service_healthy", name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["migrate"]["condition"] == "service_completed_successfully", name


def test_redis_keeps_the_stream_across_restarts(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_ingest_can_scale_out_and_the_api_is_published(compose: dict[str, Any]) -> None:
    ingest = compose["services"]["ingest"]
    assert "container_name" not in ingest
    assert "ports" not in ingest
    api = compose["services"]["api"]
    assert "8000:8000" in api["ports"]
    assert "/healthz" in " ".join(api["healthcheck"]["test"])


def test_dockerfile_runs_the_runtally_entry_point(repo_root: Path) -> None:
    text = (repo_root / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install ." in text
    assert 'ENTRYPOINT ["runtally"]' in text


def test_the_image_build_gets_every_folder_the_wheel_ships(repo_root: Path) -> None:
    """``pip install .`` in the image needs the force-included folders in its context."""
    import tomllib

    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert "migrations" in shipped
    dockerfile = (repo_root / "Dockerfile").read_text().splitlines()
    ignored = {
        line.strip().strip("/")
        for line in (repo_root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for folder in shipped:
        assert f"COPY {folder} ./{folder}" in dockerfile, folder
        assert folder not in ignored, folder
