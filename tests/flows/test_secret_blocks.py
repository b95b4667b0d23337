"""Database and S3 credentials from Prefect Secret blocks (on the test Prefect API), never shown."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from prefect.blocks.system import Secret

from rotaflow.configs.settings import Settings, secret_block_value
from rotaflow.errors import ConfigError

pytestmark = pytest.mark.flow


def _save(value: object) -> str:
    name = f"rotaflow-test-{uuid.uuid4().hex[:8]}"
    Secret(value=value).save(name)  # type: ignore[arg-type]
    return name


def test_the_database_url_comes_from_a_secret_block_when_not_set(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'from-block.db').as_posix()}"
    name = _save(url)
    settings = Settings(database_url="", database_url_block=name, var_dir=tmp_path)
    assert settings.resolved_database_url == url
    assert not settings.is_embedded_database or url.startswith("sqlite")
    assert Settings(database_url="sqlite:///given.db", database_url_block=name).resolved_database_url == (
        "sqlite:///given.db"
    )  # an explicit setting wins


def test_a_secret_block_that_is_missing_or_not_a_url_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Prefect Secret block named 'rotaflow-absent-block'"):
        Settings(database_url_block="rotaflow-absent-block", var_dir=tmp_path).resolved_database_url  # noqa: B018
    name = _save("hunter2-not-a-url")
    with pytest.raises(ConfigError, match="must hold a database URL") as caught:
        Settings(database_url_block=name, var_dir=tmp_path).resolved_database_url  # noqa: B018
    assert "hunter2" not in str(caught.value)


def test_s3_keys_come_from_the_settings_else_a_secret_block(tmp_path: Path) -> None:
    name = _save({"access_key_id": "AKIDBLOCK", "secret_access_key": "s3cr3t-from-block"})
    assert Settings(s3_credentials_block=name).s3_keys() == ("AKIDBLOCK", "s3cr3t-from-block")
    given = Settings(s3_access_key_id="AKIDENV", s3_secret_access_key="from-env", s3_credentials_block=name)
    assert given.s3_keys() == ("AKIDENV", "from-env")
    assert Settings().s3_keys() == (None, None)  # boto3's own chain (environment, instance profile)
    assert "from-env" not in repr(given) and "from-env" not in str(given.model_dump())

    wrong = _save({"key": "s3cr3t-wrong-shape"})
    with pytest.raises(ConfigError, match='"access_key_id" and "secret_access_key"') as caught:
        Settings(s3_credentials_block=wrong).s3_keys()
    assert "s3cr3t" not in str(caught.value)
    assert secret_block_value(name) == {"access_key_id": "AKIDBLOCK", "secret_access_key": "s3cr3t-from-block"}
