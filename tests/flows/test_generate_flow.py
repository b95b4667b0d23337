"""The generate_block flow on Prefect's local API: outputs, publishing, history, failures, kill switch."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from sqlalchemy import select

import rotaflow.generate as service
from configs.settings import get_settings
from db.models import Assignment, AuditEntry, ScheduleRun
from db.session import UnitOfWork
from flows.generate import generate_block
from rotaflow.ingest import database_engine

ASSIGNMENT_COLUMNS = ["person_id", "date", "shift_id", "start", "end", "hours", "rotation_id", "source"]
FINDING_COLUMNS = ["rule", "severity", "person_id", "window_start", "window_end", "value", "limit", "unit", "message"]
PROGRAM = "tiny-internal-medicine-residency"


# --------------------------------------------------------------------------- bundles


def make_solvable(bundle: Path) -> Path:
    """The tiny bundle as shipped is infeasible in both blocks (see below); relax it so both solve.

    B1: one resident (R3) on night float must cover every night (336 h > the 80-hour rule's 320 h).
    B2: the only faculty member is on blocking leave on two weekdays that need a faculty DAY.
    Night cover becomes a soft target and the faculty leave moves to a weekend.
    """
    _replace(bundle / "coverage.csv", "NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1")
    _replace(bundle / "absences.csv", "F1,2027-08-01,2027-08-03", "F1,2027-08-07,2027-08-08")
    return bundle


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def _append(path: Path, lines: list[str]) -> None:
    text = path.read_text()
    path.write_text(text + ("" if text.endswith("\n") else "\n") + "".join(line + "\n" for line in lines))


# --------------------------------------------------------------------------- API helpers


def _api(coro_factory: Any) -> Any:
    async def run() -> Any:
        async with get_client() as client:
            return await coro_factory(client)

    return asyncio.run(run())


def _artifacts(key: str, flow_run_id: object) -> list[Any]:
    found = _api(lambda c: c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))
    return [a for a in found if a.flow_run_id == flow_run_id]


def _task_runs(flow_run_id: object) -> dict[str, Any]:
    runs = _api(lambda c: c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))))
    return {r.name.rsplit("-", 1)[0]: r for r in runs}


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _published(run_id: str) -> tuple[ScheduleRun, list[Assignment]]:
    engine = database_engine(get_settings())
    with UnitOfWork(engine) as uow:
        run = uow.s.get(ScheduleRun, run_id)
        rows = uow.s.scalars(select(Assignment).where(Assignment.run_id == run_id)).all()
        return run, list(rows)


def _all_assignments() -> list[Assignment]:
    engine = database_engine(get_settings())
    with UnitOfWork(engine) as uow:
        stmt = select(Assignment).where(Assignment.run_id.is_not(None)).execution_options(include_deleted=True)
        return list(uow.s.scalars(stmt).all())


# --------------------------------------------------------------------------- the happy path


def _check_outputs(out: Path, summary: dict[str, Any]) -> list[dict[str, str]]:
    from icalendar import Calendar

    assert summary["status"] in {"optimal", "feasible"}
    for key in ("run_id", "program", "block_id", "objective", "best_bound", "solve_seconds", "warnings"):
        assert key in summary, key
    assert summary["program"] == PROGRAM and summary["block_id"] == "B1"
    assert summary["hard_violations"] == 0
    assert isinstance(summary["objective"], float | int) and isinstance(summary["best_bound"], float | int)
    assert summary["best_bound"] <= summary["objective"]
    assert 0 <= summary["solve_seconds"] < 5

    columns, rows = _read_csv(out / "assignments.csv")
    assert columns == ASSIGNMENT_COLUMNS
    assert rows, "the schedule is empty"
    shifts = {r["shift_id"]: r for r in _read_csv(out.parent / "tiny" / "shifts.csv")[1]}
    for row in rows:
        start, end = dt.datetime.fromisoformat(row["start"]), dt.datetime.fromisoformat(row["end"])
        assert row["start"].endswith("-04:00") and row["end"].endswith("-04:00"), row  # EDT in July
        assert start.date().isoformat() == row["date"]
        assert "2027-07-01" <= row["date"] <= "2027-07-28"
        spec = shifts[row["shift_id"]]
        if spec["kind"] == "home_call":  # FORMATS: home call counts only home_call_hours
            assert float(row["hours"]) == pytest.approx(float(spec["home_call_hours"]))
        else:
            assert float(row["hours"]) == pytest.approx((end - start).total_seconds() / 3600), row
        assert row["source"] in {"solver", "pinned"}
        assert row["rotation_id"] in {"WARD", "NF", ""}
    assert {r["person_id"] for r in rows} <= {"R1", "R2", "R3", "F1"}

    findings_columns, findings = _read_csv(out / "findings.csv")
    assert findings_columns == FINDING_COLUMNS
    assert all(f["severity"] in {"warning", "info"} for f in findings)
    assert sum(f["severity"] == "warning" for f in findings) == summary["warnings"]

    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["run_id"] == summary["run_id"] and on_disk["status"] == summary["status"]
    assert "<html" in (out / "report.html").read_text()[:200].lower()

    people = {r["person_id"] for r in rows}
    assert {p.stem for p in (out / "calendars").glob("*.ics")} == people
    for person in people:
        calendar = Calendar.from_ical((out / "calendars" / f"{person}.ics").read_bytes())
        events = {
            (e.decoded("dtstart"), e.decoded("dtend"), str(e.get("summary")).split(" ")[0])
            for e in calendar.walk("VEVENT")
        }
        expected = {
            (dt.datetime.fromisoformat(r["start"]), dt.datetime.fromisoformat(r["end"]), r["shift_id"])
            for r in rows
            if r["person_id"] == person
        }
        assert events == expected, person
    return rows


def test_generate_publishes_exports_reads_history_and_replaces(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_solvable(tiny_dir)
    out = tmp_path / "b1"
    state = generate_block(str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    rows = _check_outputs(out, summary)
    assert summary["published"] is True

    # the database holds the published run and exactly its assignments
    run, stored = _published(summary["run_id"])
    assert run is not None and run.status == "published" and run.block_id == "B1"
    assert {(a.person_id, a.date.isoformat(), a.shift_id) for a in stored} == {
        (r["person_id"], r["date"], r["shift_id"]) for r in rows
    }
    assert all(a.deleted_at is None for a in stored)

    # artifacts of the run
    flow_run_id = state.state_details.flow_run_id
    markdown = _artifacts("generation-summary", flow_run_id)
    assert len(markdown) == 1 and summary["status"] in markdown[0].data
    progress = _artifacts("solve-progress", flow_run_id)
    assert len(progress) == 1 and float(progress[0].data) == pytest.approx(100.0)
    assert {"build-instance", "preflight", "solve", "check-rules", "publish", "export"} <= set(_task_runs(flow_run_id))

    # B2 reads B1's published assignments as history: the flow's build-instance task passes them on
    import tasks.generate as generate_tasks

    built: list[Any] = []
    real_instance = generate_tasks.block_instance

    def spy(*args: Any, **kwargs: Any) -> Any:
        instance = real_instance(*args, **kwargs)
        built.append((kwargs.get("history"), instance))
        return instance

    monkeypatch.setattr(generate_tasks, "block_instance", spy)
    b1_cells = {(a.person_id, a.date, a.shift_id) for a in stored}
    direct = service.history_from_database(database_engine(get_settings()), PROGRAM, dt.date(2027, 7, 29))
    assert direct and set(direct) == {c for c in b1_cells if c[1] >= dt.date(2027, 6, 19)}
    b2 = generate_block(str(tiny_dir), "B2", out_dir=str(tmp_path / "b2"), time_limit_seconds=5, return_state=True)
    assert b2.is_completed(), b2.message
    assert len(built) == 1
    history, instance = built[0]
    assert set(history) == set(direct)
    in_instance = {(h.person, h.start) for h in instance.history}
    for a in stored:  # every B1 shift within the 40 days before B2 is in the B2 instance's history
        assert (a.person_id, _utc(a.start)) in in_instance
    b2_rows = _read_csv(tmp_path / "b2" / "assignments.csv")[1]
    assert b2_rows and all("2027-07-29" <= r["date"] <= "2027-08-25" for r in b2_rows)

    # generating B1 again replaces (soft-deletes) the earlier run's assignments; B2's stay
    again = generate_block(
        str(tiny_dir), "B1", out_dir=str(tmp_path / "b1-again"), time_limit_seconds=5, return_state=True
    )
    assert again.is_completed(), again.message
    second = again.result()
    everything = _all_assignments()
    first_rows = [a for a in everything if a.run_id == summary["run_id"]]
    assert len(first_rows) == len(stored)
    assert all(a.deleted_at is not None for a in first_rows)
    assert all(second["run_id"] in (a.deleted_by or "") for a in first_rows)
    live = [a for a in everything if a.deleted_at is None]
    assert {a.run_id for a in live} == {second["run_id"], b2.result()["run_id"]}
    assert all(a.run_id == second["run_id"] for a in live if a.date <= dt.date(2027, 7, 28))
    engine = database_engine(get_settings())
    with UnitOfWork(engine) as uow:
        audit = uow.s.scalars(select(AuditEntry).where(AuditEntry.action == "publish")).all()
        replaced = {e.entity_key: e.details["replaced"] for e in audit}
    assert replaced[summary["run_id"]] == 0 and replaced[second["run_id"]] == len(stored)


def _utc(value: dt.datetime | None) -> dt.datetime:
    assert value is not None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
