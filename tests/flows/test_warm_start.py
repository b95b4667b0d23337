"""The temporary Prefect API started while a command loads its modules (rotaflow.flows.warm)."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import prefect.context
import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_EPHEMERAL_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)

from rotaflow.errors import RotaflowError
from rotaflow.flows import warm
from rotaflow.flows.warm import TemporaryApi, api_warm_start, run_settings


@pytest.fixture
def own_settings() -> Iterator[None]:
    """A start that succeeds names its API in the environment and in Prefect's process-wide settings; both are
    put back afterwards (the session's test API, tests/conftest.py ``prefect_api``, is named there)."""
    named = os.environ.get("PREFECT_API_URL")
    global_context = prefect.context.GLOBAL_SETTINGS_CONTEXT
    yield
    if named is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = named
    prefect.context.GLOBAL_SETTINGS_CONTEXT = global_context


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[TemporaryApi]:
    """Every TemporaryApi started, stopped at the end of the test."""
    started: list[TemporaryApi] = []
    start = TemporaryApi.start

    def spy(self: TemporaryApi) -> None:
        started.append(self)
        start(self)

    monkeypatch.setattr(TemporaryApi, "start", spy)
    yield started
    for api in started:
        api.stop()


def test_with_an_api_named_nothing_is_started_or_imported(starts: list[TemporaryApi]) -> None:
    assert PREFECT_API_URL.value()  # the session's test API
    with api_warm_start(["rotaflow_no_such_module_to_import"]) as api:
        assert api is None
    assert "rotaflow_no_such_module_to_import" not in sys.modules
    assert starts == []


def test_with_temporary_servers_disabled_nothing_is_started_or_imported(starts: list[TemporaryApi]) -> None:
    disabled = temporary_settings({PREFECT_SERVER_EPHEMERAL_ENABLED: False}, restore_defaults={PREFECT_API_URL})
    with disabled, api_warm_start(["rotaflow_no_such_module_to_import"]) as api:
        assert api is None
    assert "rotaflow_no_such_module_to_import" not in sys.modules
    assert starts == []


def test_without_an_api_the_temporary_one_answers_when_the_block_ends_and_prefect_names_it(
    own_settings: None, starts: list[TemporaryApi]
) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not PREFECT_API_URL.value()
        with api_warm_start(["json", "rotaflow_no_such_module_to_import"]) as api:
            assert api is not None and api.process is not None
        assert api.process is not None and api.process.poll() is None
        assert httpx.get(f"{api.url}/health", timeout=30).status_code == 200
    assert "json" in sys.modules
    assert os.environ["PREFECT_API_URL"] == api.url
    assert prefect.context.GLOBAL_SETTINGS_CONTEXT.settings.api.url == api.url  # what Prefect's threads read
    assert starts == [api]
    api.stop()
    assert api.process is None
    api.stop()  # once stopped, nothing to do


def test_an_api_that_does_not_answer_in_time_is_stopped_and_the_command_ends_with_an_error(
    own_settings: None, starts: list[TemporaryApi]
) -> None:
    before = os.environ.get("PREFECT_API_URL")
    no_time = temporary_settings(
        {PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 0}, restore_defaults={PREFECT_API_URL}
    )
    with no_time, pytest.raises(RotaflowError, match="did not answer within 0 s"), api_warm_start([]):
        pass
    [api] = starts
    assert api.process is None  # stopped, not left serving
    assert os.environ.get("PREFECT_API_URL") == before  # nothing named


def test_an_error_in_the_block_stops_the_api_at_once(own_settings: None, starts: list[TemporaryApi]) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(KeyError), api_warm_start([]):
        raise KeyError("the command's own error")
    [api] = starts
    assert api.process is None


def test_a_port_taken_before_the_api_listens_on_it_starts_the_api_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        free = warm._free_port
        monkeypatch.setattr(warm, "_free_port", lambda: next(ports, None) or free())
        api = TemporaryApi()
        api.start()
        try:
            assert api.wait(120)
            assert api.port != taken.getsockname()[1]
            assert httpx.get(f"{api.url}/health", timeout=30).status_code == 200
        finally:
            api.stop()


def test_an_api_whose_process_ends_is_not_waited_for() -> None:
    api = TemporaryApi({**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": "not-a-database-url://"})
    api.start()
    try:
        assert api.wait(120) is False
    finally:
        api.stop()


def test_run_settings_turn_heartbeats_off_on_the_temporary_api_only() -> None:
    default = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    assert default is not None
    with run_settings(None):
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == default
    with run_settings(TemporaryApi()):
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
    assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == default


def test_a_command_runs_its_flows_on_the_api_without_importing_prefects_server_or_sending_heartbeats(
    tmp_path: Path,
) -> None:
    code = """
        import sys
        from rotaflow.flows.warm import api_warm_start, run_settings

        with api_warm_start([]) as api:
            from prefect import flow
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

        @flow
        def heartbeat():
            return PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()

        with run_settings(api):
            state = heartbeat(return_state=True)
        print(state.is_completed(), state.result(), "prefect.server.api.server" in sys.modules)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", PREFECT_LOGGING_TO_API_ENABLED="false")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["True", "None", "False"]


def _new_home(root: Path, name: str) -> Path:
    """A Prefect home as the CLI makes it (rotaflow/cli ``_private_prefect_home``): an empty prefect.db, 0600."""
    home = root / name
    home.mkdir()
    (home / "prefect.db").touch(mode=0o600)
    return home


def _migrated(path: Path, revision: str = "abc123") -> Path:
    """A SQLite database as Prefect's migrations leave one: an ``alembic_version`` row."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
        db.commit()
    return path


def _revision(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_a_new_home_gets_a_copy_of_the_database_the_first_new_homes_api_made(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", ROTAFLOW_CACHE_DIR=str(tmp_path / "cache"))
    first = TemporaryApi({**env, "PREFECT_HOME": str(_new_home(tmp_path, "first"))})
    template = warm.database_template(first.environ)
    assert template is not None and not template.exists()
    first.start()
    try:
        assert first.new_database == tmp_path / "first" / "prefect.db"  # no template: the API creates it
        assert first.wait(120)
    finally:
        first.stop()
    assert template.is_file() and warm._sound(template)  # kept once the API answered
    assert first.new_database is None
    revision = _revision(template)
    assert revision == _revision(tmp_path / "first" / "prefect.db")
    with contextlib.closing(sqlite3.connect(template)) as db:  # no run of any command in it
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)

    second_home = _new_home(tmp_path, "second")
    second = TemporaryApi({**env, "PREFECT_HOME": str(second_home)})
    second.start()
    try:
        database = second_home / "prefect.db"
        assert second.new_database is None  # seeded: nothing to keep
        assert stat.S_IMODE(database.stat().st_mode) == 0o600  # the home's file stays private
        assert _revision(database) == revision
        assert second.wait(120)
        assert httpx.get(f"{second.url}/health", timeout=30).status_code == 200
        flows = httpx.post(f"{second.url}/flows/filter", json={}, timeout=30)
        assert flows.status_code == 200 and flows.json() == []
    finally:
        second.stop()


def test_a_home_with_a_database_of_its_own_is_never_seeded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    own = _migrated(home / "prefect.db", "own")
    template = _migrated(tmp_path / "template.db", "template")
    env = {"PREFECT_HOME": str(home), "ROTAFLOW_CACHE_DIR": str(tmp_path / "cache")}
    target = warm.database_template(env)
    assert target is not None
    target.parent.mkdir(parents=True)
    template.rename(target)
    assert warm.seed_database(env) is None
    assert _revision(own) == "own"
    empty = _new_home(tmp_path, "new")
    assert warm.seed_database({**env, "PREFECT_HOME": str(empty)}) is None
    assert _revision(empty / "prefect.db") == "template"
    assert [p.name for p in empty.iterdir()] == ["prefect.db"]  # no part file left


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 100, "no alembic_version"])
def test_a_template_that_is_not_a_database_of_prefects_migrations_is_not_used(
    tmp_path: Path, content: bytes | str
) -> None:
    home = _new_home(tmp_path, "home")
    env = {"PREFECT_HOME": str(home), "ROTAFLOW_CACHE_DIR": str(tmp_path / "cache")}
    template = warm.database_template(env)
    assert template is not None
    template.parent.mkdir(parents=True)
    if isinstance(content, str):
        with contextlib.closing(sqlite3.connect(template)) as db:
            db.execute("CREATE TABLE flow_run (id TEXT)")
    else:
        template.write_bytes(content)
    assert warm.seed_database(env) == home / "prefect.db"  # the API creates it, and it is kept then
    assert (home / "prefect.db").stat().st_size == 0


def test_no_template_where_prefects_database_is_elsewhere_or_no_home_is_named(tmp_path: Path) -> None:
    home = _new_home(tmp_path, "home")
    env = {"PREFECT_HOME": str(home), "ROTAFLOW_CACHE_DIR": str(tmp_path / "cache")}
    for name in warm.DATABASE_ELSEWHERE:
        assert warm.prefect_database({**env, name: "postgresql+asyncpg://db/prefect"}) is None
        assert warm.seed_database({**env, name: "postgresql+asyncpg://db/prefect"}) is None
    assert warm.prefect_database({"ROTAFLOW_CACHE_DIR": str(tmp_path)}) is None
    assert warm.prefect_database(env) == home / "prefect.db"
    assert not (tmp_path / "cache").exists()


def test_the_template_is_kept_per_prefect_version_in_the_temporary_folder_never_in_the_home_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from importlib.metadata import version

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    name = f"prefect-{version('prefect')}.db"
    root = tmp_path / f"rotaflow-{os.getuid()}"
    assert warm.database_template({}) == root / "cache" / "prefect" / name
    assert stat.S_IMODE(root.stat().st_mode) == 0o700  # made the user's own
    assert warm.database_template({"ROTAFLOW_CACHE_DIR": "~/elsewhere"}) == Path.home() / "elsewhere" / "prefect" / name
    root.chmod(0o777)  # a folder others may write to (say, made by another user in /tmp): no cache at all
    assert warm.database_template({}) is None
    home = _new_home(tmp_path, "home")
    assert warm.seed_database({"PREFECT_HOME": str(home)}) is None
    assert (home / "prefect.db").stat().st_size == 0
    root.chmod(0o700)
    root.rmdir()
    root.write_text("not a folder")
    assert warm.cache_dir({}) is None


def test_keeping_a_template_fails_quietly_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    database = _migrated(tmp_path / "prefect.db")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert warm.keep_template(database, blocked / "prefect" / "prefect-0.db") is False  # the cache cannot be made
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert warm.keep_template(garbage, tmp_path / "cache" / "t.db") is False
    assert list((tmp_path / "cache").iterdir()) == []
    assert warm.keep_template(database, tmp_path / "cache" / "t.db") is True
    assert _revision(tmp_path / "cache" / "t.db") == "abc123"
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["t.db"]  # one file: no -wal, no part


def test_a_database_with_a_run_in_it_never_becomes_the_template(tmp_path: Path) -> None:
    """Another command's API on the same new home may have written its runs by the time this one answers."""
    database = _migrated(tmp_path / "prefect.db")
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("CREATE TABLE flow_run (id TEXT, parameters TEXT)")
        db.commit()
    assert warm.keep_template(database, tmp_path / "cache" / "empty.db") is True
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("INSERT INTO flow_run VALUES ('run', '{\"program\": \"a path\"}')")
        db.commit()
    assert warm.keep_template(database, tmp_path / "cache" / "with-a-run.db") is False
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["empty.db"]
