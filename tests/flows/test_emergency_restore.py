"""The emergency_restore flow on Prefect's local API: every gate, the confirmation pause, the rollback.

Each refusal ends with the live database unchanged and every backup still there; a failed
restore or verification ends rolled back to the database as it was.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input
from prefect.states import State
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import BackupConfig, load_backup_config, open_tier_store, work_dir
from rotaflow.backups.databases import related_databases
from rotaflow.backups.emergency import chain, gates, recovery, rollback
from rotaflow.backups.journal import history, journal_folder
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.restore import verify_restored
from rotaflow.backups.sets import create_backup, list_backups, write_descriptive_files
from rotaflow.backups.tiers import tag_sacred
from rotaflow.backups.verify import verify_backup
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused
from rotaflow.flows import outcome
from rotaflow.flows.restore import (
    OperatorConfirmation,
    confirmed_by,
    emergency_restore,
    emergency_restore_confirmed,
    os_account,
)
from rotaflow.storage import LocalStore
from tests.backups_fixtures import content_hashes
from tests.flows.test_events import Captured, events  # noqa: F401


def typed(backup_id: str) -> OperatorConfirmation:
    """The confirmation an operator typed at the terminal."""
    return OperatorConfirmation(backup_id, "typed")


pytestmark = pytest.mark.flow


# --------------------------------------------------------------------------- helpers


def _fake_verification(monkeypatch: pytest.MonkeyPatch, fake: Any) -> None:
    """Every step that verifies a restored database (gate 6, the rollback, the recovery) asks ``fake``."""
    for step in (chain, rollback, recovery):
        monkeypatch.setattr(step, "verify_restored", fake)


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _live(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


def _quick(config: BackupConfig) -> LocalStore:
    store = open_tier_store("quick", config)
    assert isinstance(store, LocalStore)
    return store


def _inventory(config: BackupConfig) -> dict[str, bool]:
    """Every quick and named backup: is it complete."""
    found: dict[str, bool] = {}
    for tier in ("quick", "named"):
        for info in list_backups(open_tier_store(tier, config), read_manifests=False):  # type: ignore[arg-type]
            found[info.backup_id] = info.complete
    return found


def _artifacts(key: str, flow_run_id: Any) -> list[Any]:
    async def read() -> list[Any]:
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return [a for a in found if a.flow_run_id == flow_run_id]

    return asyncio.run(read())


def _task_names(flow_run_id: Any) -> set[str]:
    async def read() -> set[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            return {r.name.rsplit("-", 1)[0] for r in runs}

    return asyncio.run(read())


def _journals() -> list[dict[str, Any]]:
    settings = get_settings()
    return history(journal_folder(work_dir(load_backup_config(), settings), settings.resolved_database_url))


def _refused(state: State, *fragments: str) -> GateRefused:
    assert state.is_failed(), state
    error = state.result(raise_on_failure=False)
    assert isinstance(error, GateRefused), error
    for fragment in fragments:
        assert fragment in str(error), str(error)
    return error


@pytest.fixture
def config() -> BackupConfig:
    return load_backup_config()


@pytest.fixture
def scene(filled_sqlite: str, config: BackupConfig, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A live SQLite database, a quick backup of it, then the live database changed afterwards."""
    live = _live(filled_sqlite, monkeypatch)
    backed_up = content_hashes(live)
    created = create_backup("quick", database_url=live, config=config)
    _execute(live, "DELETE FROM requests", "UPDATE people SET name = 'Changed' WHERE person_id = 'R1'")
    return SimpleNamespace(live=live, backup_id=created.backup_id, backed_up=backed_up, changed=content_hashes(live))


# --------------------------------------------------------------------------- the happy paths


def test_restore_from_quick_with_the_terminals_confirmation(scene: SimpleNamespace, config: BackupConfig) -> None:
    before = _inventory(config)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["status"] == "restored" and summary["rolled_back"] is False
    assert content_hashes(scene.live) == scene.backed_up  # the database equals the backup
    assert related_databases(scene.live) == []  # no staging left, the previous one retired

    snapshot = summary["pre_snapshot"]
    after = _inventory(config)
    assert set(before) <= set(after) and set(after) - set(before) == {snapshot}  # nothing lost, one added
    restored = verify_backup(_quick(config), snapshot, check_alembic=False)
    assert restored.ok and restored.manifest is not None
    assert verify_restored(scene.live, restored.manifest, contracts=False).problems  # the snapshot is the old state

    [journal] = _journals()
    assert journal["status"] == "done" and journal["backup_id"] == scene.backup_id
    steps = [s["step"] for s in journal["steps"]]
    assert steps[:5] == ["started", "disk-check", "verify-backup", "pre-snapshot-started", "pre-snapshot"]
    assert steps[5:] == [
        "confirmation",
        "fetching",
        "restoring",
        "restored",
        "swapping",
        "swapped",
        "verifying",
        "verified-restored",
        "previous-dropped",
        "finished-done",
    ]
    assert journal["steps"][5]["how"] == "typed at the terminal"
    assert journal["steps"][5]["typed"] == scene.backup_id
    flow_run_id = state.state_details.flow_run_id
    assert _task_names(flow_run_id) >= {
        "plan-restore",
        "recover-interrupted-restore",
        "disk-gate",
        "verify-backup-gate",
        "pre-snapshot-gate",
        "restore-into-staging",
        "switch-live",
        "verify-live-gate",
        "finish-restore",
    }
    [artifact] = _artifacts("emergency-restore", flow_run_id)
    assert "# Emergency restore: restored" in artifact.data and snapshot in artifact.data


def test_restore_through_a_sacred_tag_keeping_the_previous_database(
    scene: SimpleNamespace, config: BackupConfig
) -> None:
    tag_sacred(scene.backup_id, "go-live-2027", config=config)
    state = emergency_restore_confirmed(
        "sacred", "go-live-2027", confirmation=typed(scene.backup_id), keep_previous=True, return_state=True
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["backup_id"] == scene.backup_id and summary["tag"] == "go-live-2027"
    assert content_hashes(scene.live) == scene.backed_up
    [kept] = related_databases(scene.live)
    assert Path(make_url(kept).database or "").name.startswith("rotaflow.db.pre_")
    assert content_hashes(kept) == scene.changed
    assert "the previous database is kept as rotaflow.db.pre_" in summary["message"]


@pytest.mark.postgres
def test_restore_on_postgresql(filled_postgres: str, config: BackupConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    live = _live(filled_postgres, monkeypatch)
    backed_up = content_hashes(live)
    created = create_backup("named", name="before the big merge", database_url=live, config=config)
    _execute(live, "DELETE FROM absences", "UPDATE people SET name = 'Changed' WHERE person_id = 'R2'")
    state = emergency_restore_confirmed(
        "named", created.backup_id, confirmation=typed(created.backup_id), return_state=True
    )
    assert state.is_completed(), state.message
    assert content_hashes(live) == backed_up
    assert related_databases(live) == []
    assert state.result()["pre_snapshot"] in _inventory(config)


# --------------------------------------------------------------------------- gates that refuse


def _flip_byte(folder: Path) -> None:
    dump = folder / "database.sqlite3"
    data = bytearray(dump.read_bytes())
    data[5000] ^= 0x10
    dump.write_bytes(bytes(data))


def _drop_file(folder: Path) -> None:
    (folder / "row_counts.json").unlink()


def _edit_manifest(folder: Path) -> None:
    raw = json.loads((folder / "manifest.json").read_text())
    raw["tables"]["people"]["rows"] = 3
    (folder / "manifest.json").write_text(json.dumps(raw, indent=2) + "\n")


def _newer_revision(folder: Path) -> None:
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    write_descriptive_files(folder, manifest.model_copy(update={"alembic_revision": "f00dfeedbeef"}))


DAMAGE: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "flipped-byte": (_flip_byte, ["database.sqlite3 does not match its checksum"]),
    "missing-file": (_drop_file, ["row_counts.json is listed in CHECKSUM.sha256 but missing from the backup"]),
    "edited-manifest": (
        _edit_manifest,
        ["manifest.json does not match its checksum", "MANIFEST.md does not match manifest.json"],
    ),
    "newer-alembic": (_newer_revision, ["Alembic revision f00dfeedbeef, which this code does not know"]),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_the_verify_gate_refuses_a_damaged_backup(damage: str, scene: SimpleNamespace, config: BackupConfig) -> None:
    harm, expected = DAMAGE[damage]
    harm(_quick(config).root / scene.backup_id)
    before = _inventory(config)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, "the verify gate refused backup", "nothing was changed", *expected)
    assert content_hashes(scene.live) == scene.changed
    assert _inventory(config) == before  # no pre-snapshot was taken, nothing removed
    assert related_databases(scene.live) == []
    [journal] = _journals()
    assert journal["status"] == "refused" and journal["last_step"] == "finished-refused"
    assert "pre-snapshot" not in [s["step"] for s in journal["steps"]]
    [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
    assert "# Emergency restore: refused" in artifact.data


def test_the_disk_gate_refuses_when_the_disk_is_full(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def nearly_full(path: Path) -> Any:
        seen.append(Path(path))
        return SimpleNamespace(free=300 * 1024 * 1024, total=10**12, used=10**12)

    monkeypatch.setattr(gates, "DISK_USAGE", nearly_full)
    before = _inventory(config)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    error = _refused(state, "the disk gate refused: not enough free space", "300.0 MB free", "nothing was changed")
    assert "live" in str(error) and "tmp/backups" in str(error)  # the database's folder and the downloads
    assert seen  # the injected reading was used
    assert content_hashes(scene.live) == scene.changed
    assert _inventory(config) == before


def test_a_backup_that_does_not_exist_is_refused(scene: SimpleNamespace) -> None:
    state = emergency_restore_confirmed(
        "named", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, f"no backup {scene.backup_id} in the named tier")
    assert content_hashes(scene.live) == scene.changed


def test_a_mistyped_id_on_the_terminal_path_is_refused_after_the_pre_snapshot(
    scene: SimpleNamespace, config: BackupConfig
) -> None:
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed("something else"), return_state=True
    )
    _refused(state, "the confirmation gate refused", "'something else'", "nothing was restored")
    assert content_hashes(scene.live) == scene.changed
    assert len(_inventory(config)) == 2  # the backup and the pre-snapshot, both kept
    [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
    assert "| 3 pre-snapshot | passed |" in artifact.data
    assert "| 4 operator confirmation | **failed** | the confirmation gate refused" in artifact.data
    assert "| 5 restore" not in artifact.data  # the gates after it never ran
    assert "Nothing to undo: the live database was not replaced" in artifact.data
    assert "- how: typed at the terminal" in artifact.data


@pytest.mark.parametrize("given", [" {id}", "{id}\n", "{id_upper}"])
def test_the_confirmation_must_be_the_backup_id_exactly(given: str, scene: SimpleNamespace) -> None:
    text_ = given.format(id=scene.backup_id, id_upper=scene.backup_id.upper())
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, OperatorConfirmation(text_, "command-line"), return_state=True
    )
    _refused(state, "the confirmation gate refused", "nothing was restored")
    assert content_hashes(scene.live) == scene.changed
    [journal] = _journals()
    step = next(s for s in journal["steps"] if s["step"] == "confirmation")
    assert (step["ok"], step["typed"], step["how"]) == (False, text_, "given on the command line (--confirm-id)")


def test_the_command_lines_confirm_id_is_journalled_as_given(
    scene: SimpleNamespace,
    events: Captured,  # noqa: F811
) -> None:
    confirmation = OperatorConfirmation(scene.backup_id, "command-line")
    state = emergency_restore_confirmed("quick", scene.backup_id, confirmation, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["undo"] == f"rotaflow restore emergency --source quick --backup-id {summary['pre_snapshot']}"
    assert (
        state.message
        == f"restored {scene.backup_id} (quick); {summary['tables']} table(s) verified; undo: {summary['undo']}"
    )
    # the restore report: who confirmed, how, when (UTC and local), each gate, the undo command
    [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
    report = artifact.data
    assert "- how: given on the command line (--confirm-id)" in report
    assert f"- by: OS account {os_account()}\n" in report  # the terminal's account, whatever the API user
    assert re.search(
        r"- when: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .+ local time\)", report
    )
    gates = [line for line in report.splitlines() if re.match(r"\| \d ", line)]
    assert [g.split(" | ")[0].lstrip("| ") for g in gates] == [
        "1 disk space", "2 verify the backup", "3 pre-snapshot", "4 operator confirmation", "5 restore and switch",
        "6 verify the live database",
    ]  # fmt: skip
    assert all(" | passed | " in g for g in gates)
    assert f"`{summary['undo']}`" in report
    # and an event for the automations (ids only: no database URL, no account)
    (event,) = events.named("rotaflow.restore.completed")
    assert event.resource.id == "rotaflow.backup.quick"
    assert event.payload["backup_id"] == scene.backup_id and event.payload["tier"] == "quick"
    assert event.payload["confirmed_via"] == "command-line" and event.payload["pre_snapshot"] == summary["pre_snapshot"]
    assert str(state.state_details.flow_run_id) not in outcome._reported  # a success leaves nothing behind
    assert "sqlite" not in str(event.payload) and "account" not in str(event.payload)
    [journal] = _journals()
    step = next(s for s in journal["steps"] if s["step"] == "confirmation")
    assert (step["ok"], step["typed"], step["how"]) == (
        True,
        scene.backup_id,
        "given on the command line (--confirm-id)",
    )


def test_who_confirmed_is_the_terminal_s_os_account_or_the_ui_s_shared_account_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "rotaflow:the-password")  # as serve gives its worker and CLI
    made_here = OperatorConfirmation("quick-1", "typed")
    assert made_here.account == os_account() and os_account() != "rotaflow"
    assert confirmed_by(made_here) == f"OS account {os_account()}"  # never the API user
    assert confirmed_by(OperatorConfirmation("quick-1", "command-line", account="alice")) == "OS account alice"
    ui = confirmed_by(None)
    assert ui == "an operator in the Prefect UI (shared API account rotaflow: the UI does not tell who)"
    monkeypatch.delenv("PREFECT_API_AUTH_STRING")
    assert confirmed_by(None) == "an operator in the Prefect UI (no sign-in: the UI does not tell who)"


# --------------------------------------------------------------------------- confirmation in the Prefect UI


def _paused_run(backup_id: str, deadline: float = 60.0) -> Any:
    async def read() -> list[Any]:
        async with get_client() as client:
            return list(
                await client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                    )
                )
            )

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        runs = [r for r in asyncio.run(read()) if r.parameters.get("backup_id") == backup_id]
        if runs:
            return runs[0]
        time.sleep(0.3)
    raise AssertionError("the flow run never paused")


def _in_background(**parameters: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        box["state"] = emergency_restore(**parameters, confirm_poll_seconds=1, return_state=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


@pytest.mark.parametrize("answer", ["wrong-id", "not-confirmed", "right"])
def test_the_operator_confirms_in_the_prefect_ui(answer: str, scene: SimpleNamespace, config: BackupConfig) -> None:
    thread, box = _in_background(source="quick", backup_id=scene.backup_id, confirm_timeout_seconds=120)
    run = _paused_run(scene.backup_id)
    assert content_hashes(scene.live) == scene.changed  # nothing switched while it waits

    assert run.state is not None and run.state.state_details.pause_key.startswith("confirm-")
    description = read_flow_run_input(f"paused-{run.state.state_details.pause_key}-description", flow_run_id=run.id)
    assert description and scene.backup_id in description and "Pre-snapshot" in description
    assert description.startswith(f"**To restore, type `{scene.backup_id}` in *Backup id* and switch *Confirm* on")
    schema = read_flow_run_input(f"paused-{run.state.state_details.pause_key}-schema", flow_run_id=run.id)
    assert sorted(schema["required"]) == ["backup_id", "confirm"]  # no "(Optional)" in the Resume dialog
    assert "default" not in schema["properties"]["backup_id"] and "default" not in schema["properties"]["confirm"]
    assert [schema["properties"][f]["title"] for f in ("backup_id", "confirm")] == ["Backup id", "Confirm"]
    snapshot = [b for b in _inventory(config) if b != scene.backup_id]
    assert len(snapshot) == 1 and snapshot[0] in description  # taken and named before the question

    wrong = scene.backup_id[:-1] + ("1" if scene.backup_id.endswith("0") else "0")  # one character off
    typed = {"wrong-id": wrong, "not-confirmed": scene.backup_id, "right": scene.backup_id}[answer]
    resume_flow_run(run.id, run_input={"backup_id": typed, "confirm": answer != "not-confirmed"})
    thread.join(120)
    state = box["state"]
    if answer == "right":
        assert state.is_completed(), state.message
        assert content_hashes(scene.live) == scene.backed_up
        [journal] = _journals()
        assert journal["steps"][[s["step"] for s in journal["steps"]].index("confirmation")]["how"] == "prefect ui"
        [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
        assert "- how: typed in the Prefect UI (Resume dialog)" in artifact.data
    else:
        _refused(state, "the confirmation gate refused")
        assert content_hashes(scene.live) == scene.changed
    assert set(_inventory(config)) >= {scene.backup_id, *snapshot}


def test_no_answer_before_the_timeout_leaves_everything_untouched(scene: SimpleNamespace, config: BackupConfig) -> None:
    started = time.monotonic()
    state = emergency_restore(
        "quick", scene.backup_id, confirm_timeout_seconds=2, confirm_poll_seconds=1, return_state=True
    )
    _refused(state, "no answer within 2 s", "nothing was restored")
    assert time.monotonic() - started < 60
    assert content_hashes(scene.live) == scene.changed
    assert related_databases(scene.live) == []
    [journal] = _journals()
    assert journal["status"] == "refused"
    assert [s["step"] for s in journal["steps"]][-3:] == ["awaiting-confirmation", "confirmation", "finished-refused"]


# --------------------------------------------------------------------------- rollback


def test_a_failed_verification_rolls_back_to_the_previous_database(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = verify_restored

    def failing(url: str, manifest: Manifest, **kwargs: Any) -> Any:
        report = real(url, manifest, **kwargs)
        report.problems.append("simulated: a contract check failed")
        return report

    _fake_verification(monkeypatch, failing)
    before = _inventory(config)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    error = _refused(state, "simulated: a contract check failed", "Rolled back automatically")
    assert "the previous database was put back live" in str(error)
    assert content_hashes(scene.live) == scene.changed  # as it was before the restore
    [failed] = related_databases(scene.live)
    assert Path(make_url(failed).database or "").name.startswith("rotaflow.db.failed_")
    assert content_hashes(failed) == scene.backed_up  # the refused restore, kept for inspection
    assert set(before) < set(_inventory(config))
    [journal] = _journals()
    assert journal["status"] == "rolled-back"
    assert {"verify-failed", "rolling-back", "rolled-back"} <= {s["step"] for s in journal["steps"]}
    [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
    assert "The chain rolled back" in artifact.data


@pytest.mark.postgres
def test_a_failed_verification_rolls_back_on_postgresql(
    filled_postgres: str, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = _live(filled_postgres, monkeypatch)
    backed_up = content_hashes(live)
    created = create_backup("quick", database_url=live, config=config)
    _execute(live, "DELETE FROM absences")
    changed = content_hashes(live)
    real = verify_restored

    def failing(url: str, manifest: Manifest, **kwargs: Any) -> Any:
        report = real(url, manifest, **kwargs)
        report.problems.append("simulated: a contract check failed")
        return report

    _fake_verification(monkeypatch, failing)
    state = emergency_restore_confirmed(
        "quick", created.backup_id, confirmation=typed(created.backup_id), return_state=True
    )
    _refused(state, "Rolled back automatically: the previous database was put back live")
    assert content_hashes(live) == changed
    [failed] = related_databases(live)
    assert "__failed_" in failed and content_hashes(failed) == backed_up


def test_when_the_switch_cannot_be_undone_the_pre_snapshot_is_restored(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_undo(*args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated: the set-aside database cannot be renamed back")

    real = verify_restored
    calls: list[str] = []

    def failing_once(url: str, manifest: Manifest, **kwargs: Any) -> Any:
        report = real(url, manifest, **kwargs)
        calls.append(manifest.backup_id)
        if manifest.backup_id == scene.backup_id:
            report.problems.append("simulated: the restored rows are wrong")
        return report

    monkeypatch.setattr(rollback, "undo_swap", no_undo)
    _fake_verification(monkeypatch, failing_once)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    error = _refused(state, "Rolled back automatically: the pre-snapshot")
    assert content_hashes(scene.live) == scene.changed
    snapshot = error.summary["pre_snapshot"]  # type: ignore[attr-defined]
    assert calls == [scene.backup_id, snapshot]  # the snapshot put back was verified too
    [journal] = _journals()
    steps = [s["step"] for s in journal["steps"]]
    assert "undo-swap-failed" in steps and journal["status"] == "rolled-back"


def test_a_rollback_that_fails_is_left_for_the_recovery(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.cli import main

    real_verify, real_undo = verify_restored, rollback.undo_swap

    def failing(url: str, manifest: Manifest, **kwargs: Any) -> Any:
        report = real_verify(url, manifest, **kwargs)
        report.problems.append("simulated: wrong rows")
        return report

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError("simulated: cannot rename")

    _fake_verification(monkeypatch, failing)
    monkeypatch.setattr(rollback, "undo_swap", broken)
    monkeypatch.setattr(rollback, "_restore_snapshot", broken)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    error = _refused(state, "THE AUTOMATIC ROLLBACK FAILED", "`rotaflow restore recover` tries again")
    assert error.summary["status"] == "rollback-failed"  # type: ignore[attr-defined]
    assert _journals() == []  # the journal stays current, unresolved
    assert content_hashes(scene.live) == scene.backed_up  # the unverified restore is live for now

    monkeypatch.setattr(rollback, "undo_swap", real_undo)  # the cause is fixed; the operator recovers
    assert main(["restore", "recover"]) == 0
    assert content_hashes(scene.live) == scene.changed
    [journal] = _journals()
    assert journal["status"] == "recovered" and journal["recovery"]["outcome"] == "rolled-back"


def test_a_restore_that_fails_drops_its_staging_database(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = chain.restore_into

    def half(fetched: Any, target: str, **kwargs: Any) -> str:
        real(fetched, target, **kwargs)
        assert related_databases(scene.live)  # the staging database exists
        raise GateRefused("simulated: pg_restore failed half-way")

    monkeypatch.setattr(chain, "restore_into", half)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, "simulated: pg_restore failed half-way", "the live database was not touched")
    assert content_hashes(scene.live) == scene.changed
    assert related_databases(scene.live) == []
    [journal] = _journals()
    assert "staging-dropped" in [s["step"] for s in journal["steps"]] and journal["status"] == "refused"


def test_an_unexpected_error_s_text_stays_out_of_the_gate_refused_event(
    scene: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    events: Captured,  # noqa: F811
) -> None:
    detail = "DETAIL:  Key (email)=(alice.example@hospital.org) already exists."

    def breaks(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError(f"duplicate key value violates unique constraint\n{detail}")

    monkeypatch.setattr(chain, "restore_into", breaks)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    assert state.is_failed()
    (event,) = events.named("rotaflow.restore.gate-refused")
    assert event.payload["message"] == (
        "unexpected error: RuntimeError (the details are in the restore report and the run's log)"
    )
    assert "alice" not in str(event.payload)
    [artifact] = _artifacts("emergency-restore", state.state_details.flow_run_id)
    assert "RuntimeError: duplicate key value" in artifact.data  # the operator's report keeps it
    assert events.named("rotaflow.run.failed") == []


def test_a_switch_that_fails_is_rolled_back_by_the_prefect_transaction(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cannot_switch(*args: Any, **kwargs: Any) -> Any:
        raise GateRefused("simulated: could not switch the restore in: the database is being accessed")

    monkeypatch.setattr(chain, "swap_in", cannot_switch)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, "simulated: could not switch", "Nothing was switched: the live database was not touched")
    assert content_hashes(scene.live) == scene.changed
    assert related_databases(scene.live) == []  # the restore task's rollback hook dropped the staging database
    [journal] = _journals()
    steps = [s["step"] for s in journal["steps"]]
    assert steps[steps.index("restored") :] == ["restored", "swapping", "staging-dropped", "finished-refused"]


def test_a_missing_live_database_is_restored_without_a_pre_snapshot(
    scene: SimpleNamespace, config: BackupConfig
) -> None:
    Path(make_url(scene.live).database or "").unlink()
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    assert state.is_completed(), state.message
    assert state.result()["pre_snapshot"] is None
    assert content_hashes(scene.live) == scene.backed_up
    [journal] = _journals()
    assert journal["steps"][3] == {**journal["steps"][3], "step": "pre-snapshot", "backup_id": None}


def test_a_refused_restore_into_a_missing_live_database_is_moved_aside(
    scene: SimpleNamespace, config: BackupConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(make_url(scene.live).database or "").unlink()
    real = verify_restored

    def failing(url: str, manifest: Manifest, **kwargs: Any) -> Any:
        report = real(url, manifest, **kwargs)
        report.problems.append("simulated: wrong rows")
        return report

    _fake_verification(monkeypatch, failing)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, "there was no live database before: the refused restore was moved aside")
    assert not Path(make_url(scene.live).database or "").exists()  # as before: no live database
    [aside] = related_databases(scene.live)
    assert Path(make_url(aside).database or "").name.startswith("rotaflow.db.failed_")


def test_a_second_restore_while_one_runs_is_refused(scene: SimpleNamespace, config: BackupConfig) -> None:
    thread, box = _in_background(source="quick", backup_id=scene.backup_id, confirm_timeout_seconds=120)
    run = _paused_run(scene.backup_id)
    state = emergency_restore_confirmed(
        "quick", scene.backup_id, confirmation=typed(scene.backup_id), return_state=True
    )
    _refused(state, "another emergency restore of this database is running")
    resume_flow_run(run.id, run_input={"backup_id": "no", "confirm": False})
    thread.join(120)
    _refused(box["state"], "the confirmation gate refused")
    assert content_hashes(scene.live) == scene.changed
