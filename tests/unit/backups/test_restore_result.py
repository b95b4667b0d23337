"""The emergency restore's typed result: its facts in the order the run gave them, and the error carrying it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rotaflow.backups.emergency.result import GATES, RestoreResult
from rotaflow.errors import GateRefused


def _start() -> RestoreResult:
    return RestoreResult(status="refused", source="quick", backup_id="20261126T101500Z-quick-3fa2c1")


def test_a_refusal_before_the_backup_is_found_gives_its_first_facts_and_the_message() -> None:
    result = _start().give(status="refused", message="no complete backup x")
    assert result.as_dict() == {
        "status": "refused",
        "source": "quick",
        "backup_id": "20261126T101500Z-quick-3fa2c1",
        "rolled_back": False,
        "message": "no complete backup x",
    }
    assert list(result.as_dict()) == ["status", "source", "backup_id", "rolled_back", "message"]


def test_a_restored_run_keeps_the_order_its_facts_came_in() -> None:
    result = _start()
    result.give(tier="quick", tag=None, live="sqlite:///var/rotaflow.db", journal="var/journal/run.json")
    result.give(disk="enough room")
    result.gate(0, True, "enough room")
    result.give(size_bytes=4096)
    result.gate(1, True, "3 file(s) verified")
    result.give(pre_snapshot=None)
    result.give(undo=None)
    result.confirmed(
        "typed at the terminal", "terminal", "OS account ops", dt.datetime(2026, 12, 7, 1, 2, 3, tzinfo=dt.UTC)
    )
    result.give(tables=12, message="restored", status="restored", journal="var/journal/history/run.json")
    data = result.as_dict()
    assert list(data) == [
        "status",
        "source",
        "backup_id",
        "rolled_back",
        "tier",
        "tag",
        "live",
        "journal",
        "disk",
        "gates",
        "size_bytes",
        "pre_snapshot",
        "undo",
        "confirmation",
        "tables",
        "message",
    ]
    assert data["status"] == "restored" and data["journal"] == "var/journal/history/run.json"
    assert data["gates"] == [
        {"gate": GATES[0], "passed": True, "detail": "enough room"},
        {"gate": GATES[1], "passed": True, "detail": "3 file(s) verified"},
    ]
    assert data["confirmation"]["at_utc"] == "2026-12-07 01:02:03 UTC"
    assert list(data["confirmation"]) == ["how", "via", "by", "at_utc", "at_local"]
    assert data["pre_snapshot"] is None and "undo" in data


def test_a_failure_at_the_first_gate_gives_unexpected_before_the_gates() -> None:
    result = _start().give(journal="j")
    result.give(unexpected="OSError")
    result.gate(0, False, "OSError: disk gone")
    result.give(status="refused", rolled_back=False, message="OSError: disk gone")
    assert list(result.as_dict()) == [
        "status",
        "source",
        "backup_id",
        "rolled_back",
        "journal",
        "unexpected",
        "gates",
        "message",
    ]


def test_the_result_round_trips_through_its_json_form() -> None:
    result = _start().give(tier="named", live="x", journal="j", unexpected="KeyError", rollback="put back")
    result.gate(4, False, "boom")
    result.give(status="rolled-back", rolled_back=True, message="boom")
    data = json.loads(json.dumps(result.as_dict()))
    again = RestoreResult.from_dict(data)
    assert again == result and again.as_dict() == result.as_dict()
    assert json.dumps(again.as_dict()) == json.dumps(result.as_dict())


def test_a_fact_a_restore_result_does_not_have_is_refused() -> None:
    with pytest.raises(AttributeError, match="no fact 'colour'"):
        _start().give(colour="red")
    with pytest.raises(AttributeError):
        _start().give(_given=[])


def test_a_refusal_carries_the_result_as_its_summary() -> None:
    result = _start().give(message="refused")
    error = GateRefused("refused")
    assert error.summary is None
    assert error.carrying(result.as_dict()) is error
    assert error.summary == result.as_dict() and error.exit_code == 4
    made = GateRefused("refused", summary=result.as_dict())
    assert made.summary == error.summary
