"""The one place that reads the environment (prefix ``ROTAFLOW_``)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rotaflow.errors import ConfigError

__all__ = [
    "CONFIG_DIR",
    "PROJECT_ROOT",
    "Settings",
    "default_var_dir",
    "get_settings",
    "mask_url",
    "secret_block_value",
]

CONFIG_DIR = Path(__file__).resolve().parent
"""The shipped configuration (rule sets, solver, backup and steward files, the sample program):
``configs/`` of a checkout, or ``rotaflow/configs/`` of an installed wheel."""


def _checkout_root() -> Path | None:
    root = CONFIG_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "rotaflow").is_dir() else None


PROJECT_ROOT = _checkout_root()
"""The repository when rotaflow runs from its checkout (``make run``, an editable install); None
when it runs from an installed wheel."""


def default_var_dir() -> Path:
    """Writable state: ``var/`` of the checkout, or, installed from a wheel, the user's data folder
    (``$XDG_DATA_HOME/rotaflow``, else ``~/.local/share/rotaflow``); ``ROTAFLOW_VAR_DIR`` overrides both."""
    if PROJECT_ROOT is not None:
        return PROJECT_ROOT / "var"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rotaflow"


_PLACEHOLDERS = ("change", "placeholder", "secret", "example", "xxxx", "todo", "default", "your")


class Settings(BaseSettings):
    """rotaflow's settings; environments differ by these values, never by code."""

    model_config = SettingsConfigDict(env_prefix="ROTAFLOW_", env_file=None, extra="ignore")

    var_dir: Path = Field(default_factory=default_var_dir, description="working folder for embedded data")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; default is a SQLite file under var/",
    )
    object_store: str = Field(
        default="",
        description="folder path or s3://bucket/prefix; default is var/objects/",
    )
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="a webhook (Slack, Teams, a pager) the Prefect automations of `rotaflow serve` notify",
    )
    database_url_block: str | None = Field(
        default=None,
        description="name of a Prefect Secret block holding the database URL, used when database_url is empty",
    )
    s3_credentials_block: str | None = Field(
        default=None,
        description='name of a Prefect Secret block holding {"access_key_id": …, "secret_access_key": …}, '
        "used when the s3 keys are not set",
    )
    pool_size: int = Field(default=5, ge=1, description="production: 20")
    max_overflow: int = Field(default=10, ge=0, description="production: 40")
    secret_key: SecretStr | None = None
    gx_dir: Path | None = None
    contingency_task_runner: Literal["threads", "dask"] = Field(
        default="threads", description="runs the contingency scenarios: a thread pool, or Dask (prefect-dask)"
    )
    contingency_workers: int = Field(default=2, ge=1, description="threads, or LocalCluster workers")
    dask_address: str | None = Field(
        default=None, description="a Dask scheduler (tcp://host:8786); default: a LocalCluster of contingency_workers"
    )
    feed_retention_days: int = Field(
        default=400,
        ge=1,
        description="the calendar feed (var/calendars/) holds the blocks that ended fewer days ago than this",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.database_url_block:
            value = secret_block_value(self.database_url_block)
            if not isinstance(value, str) or "://" not in value:
                raise ConfigError(
                    f"the Prefect Secret block {self.database_url_block!r} (ROTAFLOW_DATABASE_URL_BLOCK) "
                    "must hold a database URL such as postgresql+psycopg://user:password@host/db"
                )
            return value
        return f"sqlite:///{(self.var_dir / 'rotaflow.db').as_posix()}"

    def s3_keys(self) -> tuple[str | None, str | None]:
        """The S3 access key id and secret: from the settings, else the Secret block, else boto3's own chain."""
        if self.s3_access_key_id or self.s3_secret_access_key or not self.s3_credentials_block:
            return (
                self.s3_access_key_id.get_secret_value() if self.s3_access_key_id else None,
                self.s3_secret_access_key.get_secret_value() if self.s3_secret_access_key else None,
            )
        value = secret_block_value(self.s3_credentials_block)
        if not (isinstance(value, dict) and {"access_key_id", "secret_access_key"} <= set(value)):
            raise ConfigError(
                f"the Prefect Secret block {self.s3_credentials_block!r} (ROTAFLOW_S3_CREDENTIALS_BLOCK) must hold "
                'JSON with "access_key_id" and "secret_access_key"'
            )
        return str(value["access_key_id"]), str(value["secret_access_key"])

    @property
    def resolved_object_store(self) -> str:
        return self.object_store or str(self.var_dir / "objects")

    @property
    def resolved_gx_dir(self) -> Path:
        return self.gx_dir or self.var_dir / "gx"

    @property
    def is_embedded_database(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def check_secrets(self) -> None:
        """Stop at once when a non-embedded database is used without a strong secret key."""
        if self.is_embedded_database:
            return
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(key) < 32:
            raise ConfigError(
                "ROTAFLOW_SECRET_KEY must be set to at least 32 characters when "
                f"ROTAFLOW_DATABASE_URL points at {mask_url(self.resolved_database_url)}"
            )
        lowered = key.lower()
        if any(word in lowered for word in _PLACEHOLDERS) or len(set(key)) < 8:
            raise ConfigError(
                "ROTAFLOW_SECRET_KEY looks like a placeholder; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )


@lru_cache(maxsize=16)
def secret_block_value(name: str) -> object:
    """The value of the Prefect Secret block ``name`` (read once per process; never logged)."""
    from prefect.blocks.system import Secret

    try:
        block: Secret[Any] = Secret.load(name, _sync=True)  # type: ignore[call-arg, assignment]
    except ValueError as exc:
        raise ConfigError(f"there is no Prefect Secret block named {name!r} on the Prefect server") from exc
    except Exception as exc:
        raise ConfigError(f"the Prefect Secret block {name!r} could not be read ({type(exc).__name__})") from exc
    return block.get()


_SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})
_SECRET_QUERY = re.compile(r"((?:^|[?&;\s])(?:ssl)?password=)[^&;\s]*", re.IGNORECASE)
# user:secret@ (an unencoded secret may hold a '/'; a bucket name never holds ':'), or user@
_S3_CREDENTIALS = re.compile(r"^(s3://)(?:[^/@:]*:[^@]*|[^/@]*)@", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL as it may be printed or stored: every secret in it hidden.

    A database URL keeps its user (``user:***@host``) and hides the password, also one given
    in the query (``?password=***``, ``sslpassword``); an ``s3://`` URL hides its credentials
    whole (``s3://***@bucket/prefix``).
    """
    from urllib.parse import urlencode

    from sqlalchemy.engine import make_url

    if url[:5].lower() == "s3://":
        return _S3_CREDENTIALS.sub(r"\1***@", url)
    try:
        parsed = make_url(url)
    except Exception:  # not an SQLAlchemy URL: hide anything between ':' and '@', and password= values
        return _SECRET_QUERY.sub(r"\1***", re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url))
    text = parsed.set(query={}).render_as_string(hide_password=True)
    if parsed.query:
        pairs = [
            (key, "***" if key.lower() in _SECRET_QUERY_KEYS else value)
            for key, values in parsed.query.items()
            for value in ((values,) if isinstance(values, str) else values)
        ]
        text += "?" + urlencode(pairs, safe="*/:")
    return text


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
