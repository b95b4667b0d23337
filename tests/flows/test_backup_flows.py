"""The backup and verify_backups flows on Prefect's local API, and the CLI commands that run them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from rotaflow.backups.config import load_backup_config, open_tier_store
from rotaflow.backups.sets import create_backup, list_backups
from rotaflow.backups.verify import verify_backup
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.errors import StorageError
from rotaflow.flows.backup import backup, verify_backups
from tests.backups_fixtures import content_hashes

pytestmark = pytest.mark.flow


def _artifacts(key: str, flow_run_id: Any) -> list[Any]:
    async def read() -> list[Any]:
        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
            return [a for a in found if a.flow_run_id == flow_run_id]

    return asyncio.run(read())


@pytest.fixture
def live(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    return filled_sqlite


@pytest.fixture
def keep_two(tmp_path: Path) -> str:
    path = tmp_path / "backup.yaml"
    path.write_text(yaml.safe_dump({"tiers": {"quick": {"keep_last": 2, "stale_after_hours": 26}}}))
    return str(path)


def _quick_ids(config_path: str | None = None) -> list[str]:
    config = load_backup_config(Path(config_path) if config_path else None)
    return [b.backup_id for b in list_backups(open_tier_store("quick", config), read_manifests=False)]


def test_backup_takes_verifies_and_prunes_the_quick_tier(live: str, keep_two: str, tiny_dir: Path) -> None:
    config = load_backup_config(Path(keep_two))
    now = dt.datetime.now(dt.UTC)
    old = [create_backup(database_url=live, config=config, now=now - dt.timedelta(hours=h)).backup_id for h in (3, 2)]
    state = backup(config_path=keep_two, extras={"bundle": str(tiny_dir)}, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["tier"] == "quick" and result["verified"] is True
    assert result["pruned"] == [old[0]]  # keep_last 2: the oldest goes
    assert state.message == (
        f"backup {result['backup_id']} (quick, {result['bytes']} bytes) taken and verified; "
        "1 older quick backup(s) pruned"
    )
    assert _quick_ids(keep_two) == [old[1], result["backup_id"]]
    store = open_tier_store("quick", config)
    report = verify_backup(store, result["backup_id"])
    assert report.ok and report.manifest is not None
    assert any(f.path == "extras/bundle/people.csv" for f in report.manifest.files)
    [artifact] = _artifacts("backup", state.state_details.flow_run_id)
    assert result["backup_id"] in artifact.data and "quick tier pruned: 1 removed, 2 kept" in artifact.data


def test_a_named_backup_is_never_pruned_and_needs_a_name(live: str) -> None:
    state = backup(tier="named", name="before the 2027 rules change", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["tier"] == "named" and result["name"] == "before the 2027 rules change"
    assert "-named-before-the-2027-rules-change-" in result["backup_id"]
    assert result["pruned"] == []
    refused = backup(tier="named", return_state=True)
    assert refused.is_failed() and "a named backup needs a name" in str(refused.message)


def test_verify_backups_warns_about_stale_tiers(
    live: str, keep_two: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_backup_config(Path(keep_two))
    old = create_backup(database_url=live, config=config, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=30))
    with caplog.at_level(logging.WARNING):
        state = verify_backups(config_path=keep_two, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["ok"] is True and summary["checked"] == 1
    assert summary["stale"] == ["quick"] and summary["not_configured"] == ["immaculate"]
    assert summary["tiers"]["quick"]["newest"] == old.backup_id
    assert 29.9 < summary["tiers"]["quick"]["age_hours"] < 30.5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"backup tier quick is stale: its newest backup {old.backup_id} is 30.0 hours old" in w for w in warnings
    )
    assert not any("immaculate" in w for w in warnings)  # no S3 settings: not configured, not stale
    flow_run_id = state.state_details.flow_run_id
    [table] = _artifacts("backup-freshness", flow_run_id)
    rows = json.loads(table.data)
    assert [r["tier"] for r in rows] == ["quick", "named", "immaculate", "sacred"]
    assert [r["stale"] for r in rows] == [True, False, False, False]
    assert [r["configured"] for r in rows] == [True, True, False, True]
    [report] = _artifacts("backup-verification", flow_run_id)
    assert "**Stale tiers:** quick —" in report.data and "**Not configured:** immaculate" in report.data

    fresh = backup(config_path=keep_two, return_state=True).result()
    again = verify_backups(config_path=keep_two, return_state=True).result()
    assert again["tiers"]["quick"]["newest"] == fresh["backup_id"] and again["stale"] == []


def test_verify_backups_fails_on_a_damaged_backup(live: str) -> None:
    made = create_backup(database_url=live, config=load_backup_config())
    store = open_tier_store("quick", load_backup_config())
    (Path(store.url) / made.backup_id / "row_counts.json").write_text("{}\n")
    state = verify_backups(return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, StorageError) and f"quick/{made.backup_id}" in str(error)
    damaged = error.summary["damaged"]  # type: ignore[attr-defined]
    assert [d["backup_id"] for d in damaged] == [made.backup_id]
    assert any(p.startswith("row_counts.json does not match its checksum") for p in damaged[0]["problems"])
    [report] = _artifacts("backup-verification", state.state_details.flow_run_id)
    assert "Damaged or incomplete backups" in report.data


def _forge_fingerprint(folder: Path, table: str) -> None:
    """Make a set self-consistent (checksums, manifest) but describe content its dump does not hold,
    as a dump that silently lost or changed data would: only a restore can tell."""
    from rotaflow.backups.manifest import Manifest
    from rotaflow.backups.sets import write_descriptive_files

    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    tables = dict(manifest.tables)
    tables[table] = tables[table].model_copy(update={"fingerprint": "0" * 32})
    write_descriptive_files(folder, manifest.model_copy(update={"tables": tables}))


def test_verify_backups_restores_the_newest_backup_into_a_scratch_database(live: str, keep_two: str) -> None:
    before = set(Path(live.split("///", 1)[1]).parent.iterdir())
    older = create_backup(
        database_url=live, config=load_backup_config(), now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    newest = create_backup(database_url=live, config=load_backup_config())
    state = verify_backups(return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    tests = {t["tier"]: t for t in summary["restore_tests"]}
    assert set(tests) == {"quick", "immaculate"}
    assert tests["quick"]["backup_id"] == newest.backup_id != older.backup_id
    assert tests["quick"]["ok"] and not tests["quick"].get("skipped")
    assert tests["quick"]["tables_checked"] == len(newest.manifest.tables) > 5
    assert tests["immaculate"]["skipped"] == "the tier is not configured"
    assert summary["restore_failed"] == [] and summary["ok"] is True
    assert content_hashes(live) == content_hashes(live)  # the live database is untouched and readable
    assert set(Path(live.split("///", 1)[1]).parent.iterdir()) == before  # no scratch file left beside it
    [report] = _artifacts("backup-verification", state.state_details.flow_run_id)
    assert f"`quick/{newest.backup_id}`: restored and checked" in report.data
    assert "`immaculate/-`: not run: the tier is not configured" in report.data

    skipped = verify_backups(restore_test=False, return_state=True).result()
    assert skipped["restore_tests"] == [] and skipped["ok"] is True


def test_verify_backups_fails_when_the_newest_backup_does_not_restore_as_recorded(live: str) -> None:
    made = create_backup(database_url=live, config=load_backup_config())
    folder = Path(open_tier_store("quick", load_backup_config()).url) / made.backup_id
    _forge_fingerprint(folder, "people")
    assert verify_backup(open_tier_store("quick", load_backup_config()), made.backup_id).ok  # checksums agree
    state = verify_backups(return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, StorageError)
    assert f"quick/{made.backup_id} (restore test)" in str(error)
    summary = error.summary  # type: ignore[attr-defined]
    assert summary["damaged"] == []
    [failed] = summary["restore_failed"]
    assert failed["backup_id"] == made.backup_id
    assert failed["problems"] == ["table people has the right row count but different content"]
    [report] = _artifacts("backup-verification", state.state_details.flow_run_id)
    assert f"`quick/{made.backup_id}`: **failed**: table people" in report.data


def test_a_damaged_newest_backup_is_reported_not_restore_tested(live: str) -> None:
    from rotaflow.backups.health import verify_all

    made = create_backup(database_url=live, config=load_backup_config())
    store = open_tier_store("quick", load_backup_config())
    (Path(store.url) / made.backup_id / "row_counts.json").write_text("{}\n")
    summary = verify_all(load_backup_config())
    assert summary["ok"] is False and [d["backup_id"] for d in summary["damaged"]] == [made.backup_id]
    quick = next(t for t in summary["restore_tests"] if t["tier"] == "quick")
    assert quick["skipped"] == "it does not verify (see the damaged backups)" and quick["tables_checked"] == 0


# --------------------------------------------------------------------------- the CLI through the flows


def test_backup_create_and_verify_run_the_flows(live: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "create", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["backup_id"] in _quick_ids()
    assert main(["backup", "verify", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tiers"]["quick"]["newest"] == made["backup_id"]
    assert "immaculate" not in captured.err  # not configured (no S3): no stale warning
    (Path(open_tier_store("quick", load_backup_config()).url) / made["backup_id"] / "MANIFEST.md").unlink()
    assert main(["backup", "verify"]) == 1
    assert "MANIFEST.md is listed in CHECKSUM.sha256 but missing" in capsys.readouterr().err


def test_restore_emergency_on_the_terminal_runs_the_whole_chain(
    live: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    before = content_hashes(live)
    made = create_backup(database_url=live, config=load_backup_config())
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(live, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM absences"))
    engine.dispose()
    monkeypatch.setattr("rotaflow.cli.restore.stdin_is_terminal", lambda: True)  # the operator types at a terminal
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{made.backup_id}\ny\n"))
    assert main(["restore", "emergency", "--from", "quick", "--backup", made.backup_id]) == 0
    captured = capsys.readouterr()
    assert "restored" in captured.out and "pre-snapshot: 20" in captured.out
    assert content_hashes(live) == before
    assert main(["restore", "history", "--json"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert run["status"] == "done" and run["backup_id"] == made.backup_id
    step = next(s for s in run["steps"] if s["step"] == "confirmation")
    assert (step["how"], step["typed"]) == ("typed at the terminal", made.backup_id)
    # a gate that refuses exits 4 with the live database as it was
    monkeypatch.setattr("rotaflow.backups.emergency.gates.DISK_USAGE", lambda path: type("U", (), {"free": 1024})())
    assert (
        main(["restore", "emergency", "--from", "quick", "--backup", made.backup_id, "--confirm-id", made.backup_id])
        == 4
    )
    assert "the disk gate refused" in capsys.readouterr().err
    assert content_hashes(live) == before
