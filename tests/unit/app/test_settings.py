"""Settings come from ROTAFLOW_* variables; secrets are checked before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.cli import main
from rotaflow.configs.settings import Settings, mask_url
from rotaflow.errors import ConfigError

PG = "postgresql+psycopg://rotaflow:hunter2@db.internal:5432/rotaflow"
STRONG = "k3J9vQ2mX8pL5nR7tW1yZ4bC6dF0gH2jS9aE"


def test_defaults_are_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTAFLOW_VAR_DIR", str(tmp_path))
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.as_posix()}/rotaflow.db"
    assert settings.resolved_object_store == str(tmp_path / "objects")
    assert (settings.pool_size, settings.max_overflow) == (5, 10)
    assert settings.is_embedded_database
    settings.check_secrets()  # no secret needed for the embedded database


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", PG)
    monkeypatch.setenv("ROTAFLOW_POOL_SIZE", "20")
    monkeypatch.setenv("ROTAFLOW_MAX_OVERFLOW", "40")
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", "s3://bucket/prefix")
    settings = Settings()
    assert (settings.pool_size, settings.max_overflow) == (20, 40)
    assert settings.resolved_object_store == "s3://bucket/prefix"
    assert not settings.is_embedded_database


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        (None, "at least 32 characters"),
        ("short-but-random-Q7", "at least 32 characters"),
        ("change-me-change-me-change-me-change-me", "placeholder"),
        ("a" * 40, "placeholder"),
    ],
)
def test_a_weak_secret_stops_a_non_embedded_setup(secret: str | None, fragment: str) -> None:
    settings = Settings(database_url=PG, secret_key=secret)
    with pytest.raises(ConfigError) as caught:
        settings.check_secrets()
    assert fragment in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_strong_secret_passes() -> None:
    Settings(database_url=PG, secret_key=STRONG).check_secrets()


def test_the_cli_refuses_to_start_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rotaflow.configs.settings import get_settings

    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", PG)
    get_settings.cache_clear()
    assert main(["db", "current"]) == 1
    err = capsys.readouterr().err
    assert "ROTAFLOW_SECRET_KEY" in err and "hunter2" not in err


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (PG, "postgresql+psycopg://rotaflow:***@db.internal:5432/rotaflow"),
        ("sqlite:///var/rotaflow.db", "sqlite:///var/rotaflow.db"),
        ("s3://key:secret@bucket/x", "s3://***@bucket/x"),  # the key id too: an s3 URL carries no credentials
    ],
)
def test_urls_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
