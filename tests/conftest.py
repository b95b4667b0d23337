"""Shared fixtures: isolated settings, the sample bundles, real PostgreSQL and S3 endpoints."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Isolate every run from the user's Prefect and rotaflow state before anything imports them.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="rotaflow-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_TMP / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["ROTAFLOW_VAR_DIR"] = str(_SESSION_TMP / "var")
for _name in ("ROTAFLOW_DATABASE_URL", "ROTAFLOW_OBJECT_STORE", "ROTAFLOW_SECRET_KEY"):
    os.environ.pop(_name, None)

from configs.settings import Settings, get_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
SAMPLE = ROOT / "configs" / "programs" / "sample"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test gets its own var/ folder (database, objects, GX) and fresh settings."""
    monkeypatch.setenv("ROTAFLOW_VAR_DIR", str(tmp_path / "var"))
    for name in ("ROTAFLOW_DATABASE_URL", "ROTAFLOW_OBJECT_STORE", "ROTAFLOW_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A writable copy of the tiny valid bundle."""
    target = tmp_path / "tiny"
    shutil.copytree(TINY, target)
    return target


@pytest.fixture
def tiny_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(TINY.iterdir())}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'app.db').as_posix()}"


# --------------------------------------------------------------------------- PostgreSQL


def _server_url() -> str | None:
    return os.environ.get("ROTAFLOW_TEST_POSTGRES_URL")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server, dropped afterwards.

    Skips when ROTAFLOW_TEST_POSTGRES_URL is unset; fails when it is set and unusable.
    """
    server = _server_url()
    if not server:
        pytest.skip("ROTAFLOW_TEST_POSTGRES_URL is not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"rotaflow_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        from db.session import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Both supported databases: SQLite and the machine's PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_url
    return request.getfixturevalue("postgres_url")


# --------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's threaded S3 server on loopback: a real HTTP endpoint for boto3."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto is a dev dependency
        if os.environ.get("ROTAFLOW_TEST_REQUIRE_S3"):
            raise
        pytest.skip("moto[server] is not installed")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket on the loopback S3 server; settings point at that endpoint."""
    from backups.storage import s3_client

    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("ROTAFLOW_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ROTAFLOW_S3_SECRET_ACCESS_KEY", "testing")
    get_settings.cache_clear()
    bucket = f"rotaflow-{uuid.uuid4().hex[:10]}"
    s3_client(endpoint_url=s3_server, access_key_id="testing", secret_access_key="testing").create_bucket(Bucket=bucket)
    return bucket
