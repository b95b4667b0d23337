"""Fault injection on the emergency restore: the S3 endpoint going down mid-transfer, and the
restore process killed (SIGKILL) between gates, in the middle of the restore and while pg_restore runs.

Each ends with the gate refusing, the chain rolling back, or the next run recovering; the
live database afterwards equals either its state before or the restored backup, never a
mix, and no backup is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import rotaflow.backups.emergency as emergency
from rotaflow.backups.config import load_backup_config, open_tier_store, work_dir
from rotaflow.backups.databases import related_databases
from rotaflow.backups.emergency import chain, gates
from rotaflow.backups.journal import RestoreJournal, history, journal_folder
from rotaflow.backups.sets import create_backup, list_backups
from rotaflow.backups.verify import verify_backup
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused
from rotaflow.storage import S3Store, s3_client
from tests.backups_fixtures import content_hashes


def typed(backup_id: str) -> Any:
    """The confirmation an operator typed at the terminal."""
    from rotaflow.flows.restore import OperatorConfirmation

    return OperatorConfirmation(backup_id, "typed")


ROOT = Path(__file__).resolve().parents[2]


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _live(url: str, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """``url`` made the live database, backed up into the quick tier, then changed."""
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    backed_up = content_hashes(url)
    created = create_backup("quick", database_url=url, config=load_backup_config())
    _execute(url, "DELETE FROM requests", "UPDATE people SET name = 'Changed' WHERE person_id = 'R1'")
    return SimpleNamespace(live=url, backup_id=created.backup_id, backed_up=backed_up, changed=content_hashes(url))


def _folder() -> Path:
    settings = get_settings()
    return journal_folder(work_dir(load_backup_config(), settings), settings.resolved_database_url)


def _names(url: str) -> list[str]:
    return [Path(make_url(u).database or "").name for u in related_databases(url)]


# --------------------------------------------------------------------------- SIGKILL


def _killed_at(point: str, scene: SimpleNamespace, api: str, tmp_path: Path) -> None:
    """Run the restore in a child process that blocks at ``point``, then kill -9 it there."""
    marker = tmp_path / f"reached-{point}"
    env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "ROTAFLOW_TEST_PAUSE_AT": point,
        "ROTAFLOW_TEST_PAUSE_MARKER": str(marker),
    }
    script = (
        "import sys\n"
        "from rotaflow.flows.restore import OperatorConfirmation, emergency_restore_confirmed\n"
        "emergency_restore_confirmed('quick', sys.argv[1], OperatorConfirmation(sys.argv[1], 'typed'))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, scene.backup_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            if child.poll() is not None:
                raise AssertionError(f"the child ended before {point}: {child.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"the child never reached {point}"
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:  # pragma: no cover - only when an assertion above failed
            child.kill()
            child.wait(30)
        assert child.stderr is not None
        child.stderr.close()


def _state_of(flow_run_id: str) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(flow_run_id))
        return run.state.type.value if run.state else "none"


def _next_run(scene: SimpleNamespace) -> dict[str, Any]:
    from rotaflow.flows.restore import emergency_restore_confirmed

    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    assert state.is_completed(), state.message
    result = state.result()
    assert isinstance(result, dict)
    return result


# where the child is killed → what the live database holds then, and what the recovery does
KILL_POINTS = {
    "after-pre-snapshot": ("changed", "untouched"),  # between gates 3 and 4
    "mid-restore": ("changed", "untouched"),  # the staging database half made
    "before-swap": ("changed", "untouched"),  # restored into staging, not switched
    "mid-swap": ("changed", "untouched"),  # connections refused (PostgreSQL) or a second name made (SQLite)
    "after-swap": ("backed_up", "completed"),  # switched in, not yet verified
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_restore_killed_is_recovered_by_the_next_run_sqlite(
    point: str, filled_sqlite: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = _live(filled_sqlite, monkeypatch)
    _killed_at(point, scene, prefect_api, tmp_path)
    state_then, outcome = KILL_POINTS[point]

    # killed: the live database is whole, the journal shows an unfinished run
    assert content_hashes(scene.live) == getattr(scene, state_then)
    journal = RestoreJournal.current(_folder())
    assert journal is not None and journal.data["status"] == "running"
    live_dir = Path(make_url(scene.live).database or "").parent
    leftovers = sorted(p.name for p in live_dir.iterdir() if p.name != "rotaflow.db")
    if point == "mid-restore":
        assert len(leftovers) == 1 and leftovers[0].endswith(".restoring")
    elif point == "before-swap":
        assert len(leftovers) == 1 and leftovers[0].startswith("rotaflow.db.restore_")
    elif point == "mid-swap":  # the staging file and a second name of the live one
        assert [n.split("_")[0] for n in leftovers] == ["rotaflow.db.pre", "rotaflow.db.restore"]
    elif point == "after-swap":
        assert len(leftovers) == 1 and leftovers[0].startswith("rotaflow.db.pre_")

    summary = _next_run(scene)
    assert summary["recovered"]["outcome"] == outcome
    assert summary["recovered"]["interrupted_after"] == journal.steps[-1]
    assert content_hashes(scene.live) == scene.backed_up
    assert sorted(p.name for p in live_dir.iterdir()) == ["rotaflow.db"]  # nothing half-made left
    recovered, done = history(_folder())
    assert recovered["status"] == "recovered" and recovered["recovery"]["outcome"] == outcome
    assert _state_of(journal.data["flow_run_id"]) == "CRASHED"  # the killed run no longer shows Running
    assert done["status"] == "done"
    backups = {b.backup_id: b.complete for b in list_backups(open_tier_store("quick", load_backup_config()))}
    assert backups[scene.backup_id] and all(backups.values())  # every backup whole, none lost


def test_a_killed_restore_whose_switched_in_database_is_wrong_is_rolled_back(
    filled_sqlite: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = _live(filled_sqlite, monkeypatch)
    _killed_at("after-swap", scene, prefect_api, tmp_path)
    _execute(scene.live, "DELETE FROM absences")  # the unverified restore is not what the backup holds
    assert main(["restore", "recover"]) == 0
    assert content_hashes(scene.live) == scene.changed  # the database as it was before the restore
    [kept] = _names(scene.live)
    assert kept.startswith("rotaflow.db.failed_")
    [recovered] = history(_folder())
    assert recovered["recovery"]["outcome"] == "rolled-back" and kept in recovered["recovery"]["kept"]
    assert {"recovery-verify", "rolling-back", "rolled-back"} <= {s["step"] for s in recovered["steps"]}
    assert main(["restore", "recover"]) == 0  # nothing left to recover


@pytest.mark.postgres
@pytest.mark.parametrize("point", ["mid-restore", "mid-swap", "after-swap"])
def test_a_restore_killed_is_recovered_by_the_next_run_postgres(
    point: str, filled_postgres: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = _live(filled_postgres, monkeypatch)
    base = make_url(filled_postgres).database
    _killed_at(point, scene, prefect_api, tmp_path)
    state_then, outcome = KILL_POINTS[point]
    if point == "mid-swap":  # killed while connections to both databases were refused
        assert _allows_connections(scene.live) is False
        expected = "restore_"
    else:
        assert content_hashes(scene.live) == getattr(scene, state_then)
        expected = "restore_" if point == "mid-restore" else "pre_"
    assert [n.split("__")[1][: len(expected)] for n in _names(scene.live)] == [expected]
    summary = _next_run(scene)
    assert summary["recovered"]["outcome"] == outcome
    assert content_hashes(scene.live) == scene.backed_up
    assert _allows_connections(scene.live) is True
    assert _names(scene.live) == [] and base


# rows that each take 50 ms to restore: their CHECK sleeps unless the session says otherwise,
# so pg_restore is still busy (COPY into slow_rows) for about 5 s after it starts
SLOW_ROWS = (
    "CREATE FUNCTION slow_check(x integer) RETURNS boolean LANGUAGE sql AS "
    "$$ SELECT CASE WHEN current_setting('rotaflow.fast', true) = 'on' THEN true "
    "ELSE pg_sleep(0.05) IS NOT NULL END $$",
    "CREATE TABLE slow_rows (x integer PRIMARY KEY CHECK (slow_check(x)))",
    "SET rotaflow.fast = 'on'",
    "INSERT INTO slow_rows SELECT generate_series(1, 100)",
)


def _process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, D, Z …), None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def _restore_sessions(database: str) -> int:
    engine = create_engine(os.environ["ROTAFLOW_TEST_POSTGRES_URL"], poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :n AND application_name = 'pg_restore'"
                    ),
                    {"n": database},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to follow the orphaned pg_restore")
def test_a_restore_killed_while_pg_restore_runs_is_recovered_and_the_orphan_stopped(
    filled_postgres: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _execute(filled_postgres, *SLOW_ROWS)
    scene = _live(filled_postgres, monkeypatch)
    _killed_at("in-pg-restore", scene, prefect_api, tmp_path)

    # the Python process is dead; the pg_restore it started is still filling the staging database
    journal = RestoreJournal.current(_folder())
    assert journal is not None and journal.steps[-2:] == ["restoring", "pg-restore-started"]
    started = journal.step("pg-restore-started")
    assert started is not None
    pid, staging = int(started["pid"]), str(started["database"])
    assert _process_state(pid) not in (None, "Z", "X"), "pg_restore ended before the test could look at it"
    assert _names(scene.live) == [staging] and "__restore_" in staging
    # the journal records pg_restore's pid as it starts, before it has connected: on a busy machine
    # its session may come a moment later
    deadline = time.monotonic() + 30
    while _restore_sessions(staging) < 1 and time.monotonic() < deadline and _process_state(pid) not in (None, "Z"):
        time.sleep(0.1)
    assert _restore_sessions(staging) >= 1
    assert content_hashes(scene.live) == scene.changed

    monkeypatch.setenv("ROTAFLOW_SECRET_KEY", secrets.token_urlsafe(48))  # the CLI wants one beside PostgreSQL
    get_settings.cache_clear()
    assert main(["restore", "recover"]) == 0
    assert _process_state(pid) in (None, "Z", "X")  # stopped by the recovery, not left writing
    assert _names(scene.live) == []  # the staging database is gone
    assert content_hashes(scene.live) == scene.changed  # the live database as it was before the restore
    assert _allows_connections(scene.live) is True
    [recovered] = history(_folder())
    assert recovered["recovery"]["outcome"] == "untouched"
    assert recovered["recovery"]["stopped_processes"] == [pid] and staging in recovered["recovery"]["dropped"]
    quick = open_tier_store("quick", load_backup_config())
    backups = {b.backup_id: b.complete for b in list_backups(quick)}
    snapshot = (RestoreJournal(_folder(), recovered).step("pre-snapshot") or {}).get("backup_id")
    assert set(backups) == {scene.backup_id, snapshot} and all(backups.values())  # none lost, none partial
    assert all(verify_backup(quick, backup_id).ok for backup_id in backups)  # and both whole
    assert main(["restore", "recover"]) == 0  # nothing left to recover


def _allows_connections(url: str) -> bool:
    server = os.environ["ROTAFLOW_TEST_POSTGRES_URL"]
    engine = create_engine(server, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    text("SELECT datallowconn FROM pg_database WHERE datname = :n"), {"n": make_url(url).database}
                ).scalar_one()
            )
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the S3 endpoint going down


class Endpoint:
    """A TCP proxy in front of the S3 server: the endpoint a test takes down in the middle of a transfer."""

    def __init__(self, upstream: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", int(parsed.port or 80))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = False
        self.counted = {"up": 0, "down": 0}
        self.limit: tuple[str, int] | None = None
        self.tripped_at: int | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, direction: str) -> None:
        try:
            while data := source.recv(16384):
                with self._lock:
                    self.counted[direction] += len(data)
                    trip = (
                        self.limit is not None
                        and self.limit[0] == direction
                        and self.counted[direction] >= self.limit[1]
                    )
                if trip:
                    self.tripped_at = self.counted[direction]
                    self.go_down()
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def go_down_after(self, direction: str, nbytes: int) -> None:
        """From now on, go down once ``nbytes`` more bytes passed in ``direction`` (up: to the server)."""
        with self._lock:
            self.counted = {"up": 0, "down": 0}
            self.limit = (direction, nbytes)

    def go_down(self) -> None:
        self.down = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


@pytest.fixture
def endpoint(s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """quick and named tiers in a bucket reached through an Endpoint; its config file."""
    proxy = Endpoint(s3_server)
    bucket = f"rotaflow-{uuid.uuid4().hex[:10]}"
    direct = s3_client(endpoint_url=s3_server, access_key_id="testing", secret_access_key="testing")
    direct.create_bucket(Bucket=bucket)
    monkeypatch.setenv("ROTAFLOW_S3_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("ROTAFLOW_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("ROTAFLOW_S3_SECRET_ACCESS_KEY", "testing")
    get_settings.cache_clear()
    config_file = tmp_path / "backup.yaml"
    tiers = {t: {"location": f"s3://{bucket}/{t}"} for t in ("quick", "named")}
    config_file.write_text(yaml.safe_dump({"tiers": tiers, "s3_transfer": {"max_concurrency": 1}}))
    yield SimpleNamespace(proxy=proxy, bucket=bucket, direct=direct, config=str(config_file))
    if not proxy.down:
        proxy.go_down()


def _direct_inventory(env: SimpleNamespace) -> dict[str, bool]:
    """Every backup in the bucket, read past the (dead) endpoint: is it complete and does it verify."""
    found = {}
    for tier in ("quick", "named"):
        store = S3Store(env.bucket, tier, env.direct)
        for info in list_backups(store, read_manifests=False):
            found[info.backup_id] = info.complete and verify_backup(store, info.backup_id).ok
    return found


@pytest.mark.s3
def test_the_endpoint_going_down_mid_upload_of_the_pre_snapshot_is_refused(
    filled_sqlite: str, endpoint: SimpleNamespace, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.flows.restore import emergency_restore_confirmed

    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    config = load_backup_config(Path(endpoint.config))
    created = create_backup("named", name="before the merge", database_url=filled_sqlite, config=config)
    _execute(filled_sqlite, "DELETE FROM requests")
    changed = content_hashes(filled_sqlite)
    real = gates.create_backup

    def upload_then_fail(*args: Any, **kwargs: Any) -> Any:
        endpoint.proxy.go_down_after("up", 60_000)  # inside the dump, a third of the way through
        return real(*args, **kwargs)

    monkeypatch.setattr(gates, "create_backup", upload_then_fail)
    state = emergency_restore_confirmed(
        "named",
        created.backup_id,
        confirmation=typed(created.backup_id),
        config_path=endpoint.config,
        return_state=True,
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, GateRefused)
    assert "the pre-snapshot could not be written" in str(error) and "nothing was changed" in str(error)
    assert endpoint.proxy.down and endpoint.proxy.tripped_at is not None
    assert content_hashes(filled_sqlite) == changed
    assert related_databases(filled_sqlite) == []
    found = _direct_inventory(endpoint)
    assert found[created.backup_id] is True  # the backup to restore is whole
    assert [ok for backup_id, ok in found.items() if backup_id != created.backup_id] in ([], [False])  # partial only
    [journal] = history(_folder_for(endpoint.config))
    assert journal["status"] == "refused" and journal["last_step"] == "finished-refused"


def _folder_for(config_path: str) -> Path:
    settings = get_settings()
    return journal_folder(work_dir(load_backup_config(Path(config_path)), settings), settings.resolved_database_url)


@pytest.mark.s3
def test_the_endpoint_going_down_mid_download_is_refused_untouched(
    filled_sqlite: str, endpoint: SimpleNamespace, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.flows.restore import emergency_restore_confirmed

    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    config = load_backup_config(Path(endpoint.config))
    created = create_backup("quick", database_url=filled_sqlite, config=config)
    _execute(filled_sqlite, "DELETE FROM requests")
    changed = content_hashes(filled_sqlite)
    real = chain.fetch_backup

    def download_then_fail(*args: Any, **kwargs: Any) -> Any:
        endpoint.proxy.go_down_after("down", 60_000)
        return real(*args, **kwargs)

    monkeypatch.setattr(chain, "fetch_backup", download_then_fail)
    state = emergency_restore_confirmed(
        "quick",
        created.backup_id,
        confirmation=typed(created.backup_id),
        config_path=endpoint.config,
        return_state=True,
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, GateRefused)
    assert "the backup could not be downloaded" in str(error)
    assert "Nothing was switched: the live database was not touched" in str(error)
    assert endpoint.proxy.down and endpoint.proxy.tripped_at is not None
    assert content_hashes(filled_sqlite) == changed
    assert related_databases(filled_sqlite) == []
    work = work_dir(config, get_settings())
    assert [p.name for p in work.iterdir() if p.name.startswith("restore-")] == ["restore-journal"]  # no download left
    found = _direct_inventory(endpoint)
    assert len(found) == 2 and all(found.values())  # the backup and the pre-snapshot, whole
    [journal] = history(_folder_for(endpoint.config))
    assert journal["status"] == "refused" and "restoring" not in [s["step"] for s in journal["steps"]]


# --------------------------------------------------------------------------- immaculate baselines (SeaweedFS)


@pytest.fixture
def baseline_config(locked_bucket: str, tmp_path: Path) -> str:
    path = tmp_path / "backup.yaml"
    immaculate = {"location": f"s3://{locked_bucket}/baselines", "retention_days": 1}
    path.write_text(yaml.safe_dump({"tiers": {"immaculate": immaculate}}))
    return str(path)


@pytest.mark.s3
def test_promote_then_restore_from_an_immaculate_baseline(
    filled_sqlite: str, baseline_config: str, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.flows.backup import promote_immaculate_flow
    from rotaflow.flows.restore import emergency_restore_confirmed

    scene = _live(filled_sqlite, monkeypatch)
    promoted = promote_immaculate_flow(scene.backup_id, name="year one", config_path=baseline_config)
    assert promoted["promoted_from"] == f"quick/{scene.backup_id}"
    baseline = promoted["backup_id"]
    assert "-immaculate-year-one-" in baseline
    state = emergency_restore_confirmed(
        "immaculate", baseline, confirmation=typed(baseline), config_path=baseline_config, return_state=True
    )
    assert state.is_completed(), state.message
    assert content_hashes(scene.live) == scene.backed_up
    from rotaflow.backups.emergency import preview_text

    _, text_ = preview_text("immaculate", baseline, config_path=baseline_config)
    assert f"| Promoted from | quick/{scene.backup_id} |" in text_ and "| Object Lock | COMPLIANCE until" in text_
    [journal] = history(_folder_for(baseline_config))
    verified = next(s for s in journal["steps"] if s["step"] == "verify-backup")
    assert verified["ok"] and any("locked in COMPLIANCE mode until" in n for n in verified["notes"])


@pytest.mark.s3
def test_an_unlocked_baseline_is_refused_by_the_verify_gate(
    filled_sqlite: str, baseline_config: str, prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.backups.sets import fetch_backup, upload_set, write_descriptive_files
    from rotaflow.flows.restore import emergency_restore_confirmed

    scene = _live(filled_sqlite, monkeypatch)
    config = load_backup_config(Path(baseline_config))
    fetched = fetch_backup(open_tier_store("quick", config), scene.backup_id, tmp_path / "dl")
    forged_id = scene.backup_id.replace("-quick-", "-immaculate-")
    forged = fetched.manifest.model_copy(update={"backup_id": forged_id, "tier": "immaculate"})
    write_descriptive_files(fetched.folder, forged)
    upload_set(open_tier_store("immaculate", config), forged_id, fetched.folder, forged)  # no Object Lock
    state = emergency_restore_confirmed(
        "immaculate", forged_id, confirmation=typed(forged_id), config_path=baseline_config, return_state=True
    )
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, GateRefused)
    assert "database.sqlite3 is not under Object Lock in COMPLIANCE mode (no lock)" in str(error)
    assert content_hashes(scene.live) == scene.changed


# --------------------------------------------------------------------------- journals left in odd states


def test_a_second_journal_is_refused_while_one_is_unrecovered(filled_sqlite: str, tmp_path: Path) -> None:
    folder = journal_folder(tmp_path / "work", filled_sqlite)
    RestoreJournal.start(folder, run_id="first")
    with pytest.raises(GateRefused, match="an interrupted restore's journal is still at"):
        RestoreJournal.start(folder, run_id="second")


@pytest.mark.parametrize("content", ["{not json", json.dumps({"status": "running", "steps": [{"step": "started"}]})])
def test_a_journal_killed_before_its_plan_is_closed_as_untouched(
    content: str, filled_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = _live(filled_sqlite, monkeypatch)
    (_folder() / "current.json").write_text(content)
    recovery = emergency.recover_interrupted()
    assert recovery is not None and recovery.outcome == "untouched"
    assert "nothing had been changed" in recovery.message
    assert RestoreJournal.current(_folder()) is None
    assert content_hashes(scene.live) == scene.changed


def test_a_journal_that_had_rolled_back_is_only_filed(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scene = _live(filled_sqlite, monkeypatch)
    journal = RestoreJournal.start(
        _folder(), run_id="r1", plan_time="2026-11-26T10:15:00+00:00", backup_id=scene.backup_id, tier="quick"
    )
    for step in ("swapping", "swapped", "verifying", "verify-failed", "rolling-back", "rolled-back"):
        journal.record(step)
    recovery = emergency.recover_interrupted()
    assert recovery is not None and recovery.outcome == "rolled-back"
    assert recovery.message == "the run had already rolled back before it was interrupted"
    assert content_hashes(scene.live) == scene.changed
