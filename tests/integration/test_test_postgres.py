"""The PostgreSQL server of the test session is found without ROTAFLOW_TEST_POSTGRES_URL (tests/conftest.py).

Each case runs pytest on one PostgreSQL test in a subprocess whose environment has no
ROTAFLOW_TEST_POSTGRES_URL: that test must run (not skip), on the machine's server when it answers,
else on the embedded one (ROTAFLOW_TEST_POSTGRES_NO_PROBE=1 makes the session ignore the machine's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_POSTGRES_TEST = "tests/integration/test_migrations.py::test_upgrade_to_head_and_downgrade_to_base[postgresql]"


@pytest.fixture
def pgdata() -> Iterator[Path]:
    """A new data folder under var/: the server's system user must traverse its parents, and pytest
    resets its own base folder to mode 0700 whenever another session starts."""
    path = ROOT / "var" / f"test-postgres-{uuid.uuid4().hex[:8]}"
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _pytest_without_the_variable(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ROTAFLOW_TEST_POSTGRES_URL"}
    env["PATH"] = (
        "/usr/bin:/bin"  # what a clean environment gives (newcomers run `env -i PATH=/usr/bin:/bin make test`)
    )
    env.update(extra)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", ONE_POSTGRES_TEST]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.postgres
def test_without_the_variable_the_session_finds_a_server(tmp_path: Path) -> None:
    done = _pytest_without_the_variable(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]
    assert "PostgreSQL for the tests:" in done.stdout


@pytest.mark.postgres
def test_without_any_server_the_session_starts_an_embedded_one(tmp_path: Path, pgdata: Path) -> None:
    done = _pytest_without_the_variable(
        tmp_path, **{"ROTAFLOW_TEST_POSTGRES_NO_PROBE": "1", "ROTAFLOW_TEST_POSTGRES_PGDATA": str(pgdata)}
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-3000:]
    assert "PostgreSQL for the tests: embedded" in done.stdout, done.stdout[-3000:]
    assert (pgdata / "PG_VERSION").is_file()
    assert not (pgdata / "postmaster.pid").exists()  # stopped at the end of the session


def test_the_system_folders_are_on_path_only_while_the_user_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import SYSTEM_BIN, _system_tools_on_path

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with _system_tools_on_path():
        assert os.environ["PATH"].split(os.pathsep) == ["/usr/bin", "/bin", *SYSTEM_BIN]
        if Path("/usr/sbin/useradd").exists():
            assert shutil.which("useradd") == "/usr/sbin/useradd"
    assert os.environ["PATH"] == "/usr/bin:/bin"
    monkeypatch.delenv("PATH")
    with _system_tools_on_path():
        assert os.environ["PATH"].split(os.pathsep) == list(SYSTEM_BIN)
    assert "PATH" not in os.environ


@pytest.mark.postgres
def test_the_embedded_server_starts_and_stops(pgdata: Path) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from tests.conftest import embedded_postgres

    with embedded_postgres(pgdata) as url:
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
    assert not (pgdata / "postmaster.pid").exists()
