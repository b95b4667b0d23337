"""One verification of every tier (``health.verify``), whoever runs its steps, and its typed summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rotaflow.backups.config import BackupConfig, Tier, load_backup_config
from rotaflow.backups.health import VerifySteps, VerifySummary, verify
from rotaflow.backups.tiers import TierStatus
from rotaflow.errors import StorageError
from rotaflow.services.backup import verify_failure


def _status(tier: str, newest: str | None, *, configured: bool = True) -> TierStatus:
    age = dt.timedelta(hours=2) if newest else None
    stale = newest is None and configured
    return TierStatus(tier, newest, age, stale, count=int(bool(newest)), incomplete=0, configured=configured)


def _steps(calls: list[str], config: BackupConfig, *, damaged: str | None = None) -> VerifySteps:
    def check(tier: Tier) -> list[dict[str, Any]]:
        calls.append(f"check {tier}")
        if tier != "quick":
            return []
        return [{"tier": "quick", "backup_id": "q1", "ok": damaged != "q1", "problems": ["bad"] if damaged else []}]

    def sacred() -> list[dict[str, Any]]:
        calls.append("check sacred")
        return []

    def status(tier: Tier) -> TierStatus:
        calls.append(f"status {tier}")
        return _status(tier, "q1" if tier == "quick" else None, configured=tier != "immaculate")

    def settings() -> BackupConfig:
        calls.append("config")
        return config

    def restore(tier: Tier, backup_id: str) -> dict[str, Any]:
        calls.append(f"restore {tier}/{backup_id}")
        return {"tier": tier, "backup_id": backup_id, "ok": True, "problems": [], "tables_checked": 7, "seconds": 0.1}

    return VerifySteps(
        check_tier=check,
        check_sacred_tags=sacred,
        tier_status=status,
        config=settings,
        restore_test=restore,
        not_run=lambda tier, why: calls.append(f"not run {tier}: {why}"),
    )


def test_the_steps_run_in_the_flows_order_and_make_one_summary() -> None:
    calls: list[str] = []
    config = load_backup_config(restore_test={"tiers": ["immaculate", "quick"]})
    result = verify(_steps(calls, config), restore=True)
    assert calls == [
        "check quick",
        "status quick",
        "check named",
        "status named",
        "check immaculate",
        "status immaculate",
        "check sacred",
        "status sacred",
        "config",
        "not run immaculate: the tier is not configured",
        "restore quick/q1",
    ]
    assert result.ok and result.checked == 1 and result.restore_failed == []
    assert [t["tier"] for t in result.restore_tests] == ["immaculate", "quick"]
    assert result.restore_tests[0]["skipped"] == "the tier is not configured"
    assert list(result.as_dict()) == [
        "checked",
        "tiers",
        "stale",
        "not_configured",
        "damaged",
        "restore_tests",
        "restore_failed",
        "ok",
    ]
    assert verify_failure(result.as_dict()) is None


def test_without_restore_tests_no_restore_runs() -> None:
    calls: list[str] = []
    result = verify(_steps(calls, load_backup_config()), restore=False)
    assert not any(c.startswith(("restore", "not run")) for c in calls)
    assert result.restore_tests == []


def test_the_summary_round_trips_through_its_json_form() -> None:
    calls: list[str] = []
    result = verify(_steps(calls, load_backup_config(), damaged="q1"))
    data = result.as_dict()
    assert VerifySummary(**data) == result and VerifySummary(**data).as_dict() == data
    assert data["ok"] is False and [d["backup_id"] for d in data["damaged"]] == ["q1"]
    assert data["tiers"]["quick"]["damaged"] == ["q1"]


def test_a_failed_verification_carries_its_summary() -> None:
    data = verify(_steps([], load_backup_config(), damaged="q1")).as_dict()
    error = verify_failure(data)
    assert isinstance(error, StorageError) and error.summary == data
    assert str(error) == "1 backup(s) damaged, incomplete or not restorable: quick/q1"
