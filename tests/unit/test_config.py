from __future__ import annotations

import pytest
from pydantic import ValidationError

from runtally.config import Settings


def test_env_vars_set_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNTALLY_STREAM", "s1")
    monkeypatch.setenv("RUNTALLY_BATCH_SIZE", "17")
    monkeypatch.setenv("RUNTALLY_RAW_RETENTION_DAYS", "9")
    settings = Settings()
    assert (settings.stream, settings.batch_size, settings.raw_retention_days) == ("s1", 17, 9)


def test_defaults_match_the_design() -> None:
    settings = Settings()
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.stream == "runtally:events"
    assert settings.dead_stream == "runtally:events:dead"
    assert settings.group == "runtally-ingest"
    assert settings.raw_retention_days == 30


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("postgresql://u@h:1/d", "postgresql://u@h:1/d"),
        ("postgres://u@h/d", "postgresql://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql://u@h/d"),
    ],
)
def test_database_url_forms(given: str, plain: str) -> None:
    settings = Settings(database_url=given)
    assert settings.asyncpg_dsn == plain
    assert settings.sqlalchemy_url == "postgresql+asyncpg://" + plain.removeprefix("postgresql://")


@pytest.mark.parametrize("bad", [{"database_url": "mysql://x"}, {"batch_size": 0}])
def test_invalid_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h/d", "postgresql://u:***@h/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ],
)
def test_safe_url_hides_passwords(url: str, shown: str) -> None:
    from runtally.errors import safe_url

    assert safe_url(url) == shown
