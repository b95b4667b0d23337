"""The generate_block flow on Prefect's local API: outputs, publishing, history, failures, kill switch."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import gc
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling
from sqlalchemy import select

import rotaflow.services.generate as service
from rotaflow.configs.settings import get_settings
from rotaflow.db.models import Assignment, AuditEntry, ScheduleRun
from rotaflow.db.session import UnitOfWork
from rotaflow.errors import InfeasibleError, InputError
from rotaflow.flows.generate import generate_block
from rotaflow.services.ingest import database_engine
from rotaflow.services.results import PHASES, GenerateResult

ASSIGNMENT_COLUMNS = [
    *("person_id", "date", "shift_id", "start", "end", "hours", "rotation_id", "source", "start_local", "end_local")
]
FINDING_COLUMNS = [
    *("rule", "severity", "person_id", "window_start", "window_end", "value", "limit", "unit", "message"),
    *("kind", "date", "shift_id"),
]
PROGRAM = "tiny-internal-medicine-residency"


# A CP-SAT progress point reported from the solver's own threads opens a Prefect client that is
# never closed (see test_a_solve_leaves_no_api_connection_open): silence that one warning here and
# collect the leaked clients before the test ends, so they cannot fail a later test.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Any:
    yield
    gc.collect()


@pytest.fixture
def fast_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the Great Expectations suites (seconds per run; covered by the ingest flow tests)."""
    import rotaflow.services.ingest as ingest_service
    from rotaflow.validations.expectations import ExpectationReport

    monkeypatch.setattr(
        ingest_service, "check_expectations", lambda bundle, settings=None: ExpectationReport(True, [], None, 0, 0)
    )


# --------------------------------------------------------------------------- bundles


def make_solvable(bundle: Path) -> Path:
    """The tiny bundle as shipped is infeasible in both blocks (see below); relax it so both solve.

    B1: one resident (R3) on night float must cover every night: more hours than the 80-hour rule allows.
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


def _published(run_id: str) -> tuple[ScheduleRun | None, list[Assignment]]:
    engine = database_engine(get_settings())
    with UnitOfWork(engine) as uow:
        run = uow.s.get(ScheduleRun, run_id)
        rows = list(uow.s.scalars(select(Assignment).where(Assignment.run_id == run_id)).all())
        uow.s.expunge_all()  # keep the loaded values readable after the unit of work closes
        return run, rows


def _all_assignments() -> list[Assignment]:
    engine = database_engine(get_settings())
    with UnitOfWork(engine) as uow:
        stmt = select(Assignment).where(Assignment.run_id.is_not(None)).execution_options(include_deleted=True)
        rows = list(uow.s.scalars(stmt).all())
        uow.s.expunge_all()
        return rows


# --------------------------------------------------------------------------- the happy path


def _shift_of(event: Any) -> str:
    """The shift id a calendar event's description gives (its title is the shift's name)."""
    return str(event.get("description")).split("\n")[0].removeprefix("shift: ")


def _check_phases(phases: dict[str, Any], *, ran: tuple[str, ...]) -> None:
    """Every phase named, those that ran >= 0 s and the others null, their sum within the total."""
    assert list(phases) == [*PHASES, "total"]
    for name in PHASES:
        if name in ran:
            assert isinstance(phases[name], float) and phases[name] >= 0, name
        else:
            assert phases[name] is None, name
    assert sum(phases[name] or 0.0 for name in PHASES) <= phases["total"] + 0.01


def _check_outputs(out: Path, summary: dict[str, Any], bundle: Path) -> list[dict[str, str]]:
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
    shifts = {r["shift_id"]: r for r in _read_csv(bundle / "shifts.csv")[1]}
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
    # validated independently (N-1 contingency included) and secured by a verified quick backup
    assert on_disk["validation"]["verdict"] == "passed" and on_disk["engine_check_violations"] == 0
    assert "contingency" in on_disk["validation"]
    assert on_disk["backup"]["tier"] == "quick" and on_disk["backup"]["verified"] is True
    assert (out / "validation.json").is_file()
    _check_phases(on_disk["phases"], ran=PHASES)
    assert on_disk["phases"]["solve"] == pytest.approx(on_disk["solve_seconds"], abs=1e-3)

    with (bundle / "people.csv").open(newline="", encoding="utf-8") as handle:
        people = {r["person_id"] for r in csv.DictReader(handle)}
    assert {r["person_id"] for r in rows} <= people
    assert {p.stem for p in (out / "calendars").glob("*.ics")} == people  # everyone, with shifts or not
    for person in people:
        calendar = Calendar.from_ical((out / "calendars" / f"{person}.ics").read_bytes())
        events = {
            (_wall(e.decoded("dtstart")), _wall(e.decoded("dtend")), _shift_of(e)) for e in calendar.walk("VEVENT")
        }
        expected = {
            (_wall(dt.datetime.fromisoformat(r["start"])), _wall(dt.datetime.fromisoformat(r["end"])), r["shift_id"])
            for r in rows
            if r["person_id"] == person
        }
        assert events == expected, person
    return rows


def test_generate_publishes_exports_reads_history_and_replaces(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_solvable(tiny_dir)
    out = tmp_path / "b1"
    state = generate_block(str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    rows = _check_outputs(out, summary, tiny_dir)
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
    markdown = sorted(_artifacts("generation-summary", flow_run_id), key=lambda a: a.created)
    assert len(markdown) == 2  # after the export, then the run's outcome
    assert (
        summary["status"] in markdown[-1].data
        and f"| published | yes, version {summary['version']} |" in markdown[-1].data
    )
    progress = _artifacts("solve-progress", flow_run_id)
    assert len(progress) == 1 and float(progress[0].data) == pytest.approx(100.0)
    assert {"build-instance", "preflight", "solve", "check-rules", "publish", "export"} <= set(_task_runs(flow_run_id))

    # B2 reads B1's published assignments as history: the flow's build-instance task passes them on
    import rotaflow.tasks.generate as generate_tasks

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


def test_a_failed_backup_withdraws_the_publish_and_puts_the_previous_schedule_back(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_solvable(tiny_dir)
    first = generate_block(
        str(tiny_dir), "B1", out_dir=str(tmp_path / "first"), time_limit_seconds=5, contingency="none"
    )
    assert isinstance(first, dict) and first["published"] and "backup_id" in first["backup"]
    live_before = {(a.person_id, a.date, a.shift_id, a.run_id) for a in _all_assignments() if a.deleted_at is None}
    assert live_before

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the object store's folder would be\n")
    monkeypatch.setenv("ROTAFLOW_OBJECT_STORE", str(blocker / "objects"))
    get_settings.cache_clear()
    out = tmp_path / "second"
    state = generate_block(
        str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, contingency="none", return_state=True
    )
    assert state.is_failed()
    assert "the backup after publishing failed, so the schedule was withdrawn again" in str(state.message)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published"] is False and "error" in summary["backup"]

    run, _ = _published(summary["run_id"])
    assert run is not None and run.status == "rolled_back"
    everything = _all_assignments()
    assert {(a.person_id, a.date, a.shift_id, a.run_id) for a in everything if a.deleted_at is None} == live_before
    withdrawn = [a for a in everything if a.run_id == summary["run_id"]]
    assert withdrawn and all(a.deleted_at is not None and "rollback" in (a.deleted_by or "") for a in withdrawn)
    with UnitOfWork(database_engine(get_settings())) as uow:
        [entry] = uow.s.scalars(select(AuditEntry).where(AuditEntry.action == "unpublish")).all()
        key, details = entry.entity_key, dict(entry.details)
    assert key == summary["run_id"]
    assert details["restored"] == len(live_before) and details["withdrawn"] == len(withdrawn)


def test_a_schedule_with_hard_violations_is_recorded_never_published(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rotaflow.flows.generate as generate_flow

    make_solvable(tiny_dir)
    real = generate_flow.validate_schedule

    def stricter(*args: Any, **kwargs: Any) -> Any:  # the independent validator finds what the engine did not
        state = real(*args, **kwargs)
        summary = dict(state.result())
        summary["hard_violations"] = 1
        return type("Checked", (), {"result": lambda self, raise_on_failure=True: summary, "message": ""})()

    monkeypatch.setattr(generate_flow, "validate_schedule", stricter)
    state = generate_block(
        str(tiny_dir), "B1", out_dir=str(tmp_path / "out"), time_limit_seconds=5, contingency="none", return_state=True
    )
    assert state.is_failed()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    run, stored = _published(summary["run_id"])
    assert run is not None and run.status != "published" and stored == []
    assert summary["published"] is False and "backup" not in summary
    assert [a for a in _all_assignments() if a.deleted_at is None] == []


def _wall(value: dt.datetime) -> dt.datetime:
    """Local wall-clock time in the program's zone (the .ics files lose the offset: see the xfail below)."""
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo("America/New_York"))
    return value.replace(tzinfo=None)


def _utc(value: dt.datetime | None) -> dt.datetime:
    assert value is not None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_calendar_events_keep_their_instants(tiny_dir: Path, tmp_path: Path) -> None:
    from icalendar import Calendar

    from rotaflow.services.ingest import load_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    bundle = load_bundle(str(make_solvable(tiny_dir)))
    instance = block_instance(bundle, "B1")
    result = service.solve_block(instance, rules_for(bundle), service.load_solver_settings(time_limit_seconds=5))
    assert result.cells
    summary = GenerateResult.start(
        run_id="run-1", program=PROGRAM, program_version=1, block_id="B1", rules=[], time_limit_seconds=5.0
    )
    service.write_outputs(tmp_path / "out", instance=instance, cells=result.cells, findings=[], summary=summary)
    rows = _read_csv(tmp_path / "out" / "assignments.csv")[1]
    person = rows[0]["person_id"]
    calendar = Calendar.from_ical((tmp_path / "out" / "calendars" / f"{person}.ics").read_bytes())
    events = {(e.decoded("dtstart"), e.decoded("dtend")) for e in calendar.walk("VEVENT")}
    expected = {
        (dt.datetime.fromisoformat(r["start"]), dt.datetime.fromisoformat(r["end"]))
        for r in rows
        if r["person_id"] == person
    }
    assert all(start.tzinfo is not None for start, _ in events), "floating times: the offset was lost"
    assert events == expected


# --------------------------------------------------------------------------- failures


def test_preflight_refusal_fails_with_the_diagnosis(tiny_dir: Path, tmp_path: Path, fast_ingest: None) -> None:
    make_solvable(tiny_dir)
    # WARD has two residents; a dated row asks for three on the day shift of 2027-07-05
    _append(tiny_dir / "coverage.csv", ["DAY,2027-07-05,WARD,resident,,,3,3,"])
    out = tmp_path / "refused"
    state = generate_block(str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    assert state.is_failed()
    with pytest.raises(InfeasibleError) as info:
        state.result()
    summary = info.value.summary
    assert summary is not None
    assert summary["status"] == "infeasible" and summary["block_id"] == "B1"
    assert summary["diagnosis"], summary
    assert any(d["screen"] == "coverage_supply" and "2027-07-05" in d["dates"] for d in summary["diagnosis"])
    assert "preflight" in str(info.value)
    assert "solve" not in _task_runs(state.state_details.flow_run_id)
    written = json.loads((out / "summary.json").read_text())
    assert written["status"] == "infeasible" and written["diagnosis"] == summary["diagnosis"]
    ran = ("ingest", "contracts", "build", "preflight", "export")  # nothing solved; the empty outputs written
    _check_phases(written["phases"], ran=ran)
    assert summary["phases"] == written["phases"]
    assert _read_csv(out / "assignments.csv") == (ASSIGNMENT_COLUMNS, [])
    assert not _all_assignments()


def test_solver_infeasibility_fails_with_the_conflicting_rules(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None
) -> None:
    make_solvable(tiny_dir)
    # seven nights in a row for the only night-float resident: every screen passes, the 6-night cap does not
    _append(tiny_dir / "coverage.csv", [f"NIGHT,2027-07-0{d},NF,resident,,,1,1," for d in range(1, 8)])
    out = tmp_path / "infeasible"
    state = generate_block(str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    assert state.is_failed()
    with pytest.raises(InfeasibleError) as info:
        state.result()
    summary = info.value.summary
    assert summary is not None
    assert summary["status"] == "infeasible"
    assert summary["preflight"] == []  # the screens saw nothing
    rules = {d["rule"] for d in summary["diagnosis"]}
    assert {"coverage", "max_consecutive_nights"} <= rules, summary["diagnosis"]
    assert any("R3" in d["people"] for d in summary["diagnosis"])
    assert {"solve", "diagnose"} <= set(_task_runs(state.state_details.flow_run_id))
    written = json.loads((out / "summary.json").read_text())
    assert written["status"] == "infeasible" and {d["rule"] for d in written["diagnosis"]} == rules
    _check_phases(written["phases"], ran=("ingest", "contracts", "build", "preflight", "solve", "export"))
    assert not _all_assignments()


def test_a_bad_bundle_fails_with_input_error_and_writes_nothing(tiny_dir: Path, tmp_path: Path) -> None:
    _replace(tiny_dir / "shifts.csv", "DAY,Day ward,07:00", "DAY,Day ward,7am")
    out = tmp_path / "never"
    state = generate_block(str(tiny_dir), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError) as info:
        state.result()
    assert any(p.file == "shifts.csv" and p.column == "start" for p in info.value.problems)
    assert not out.exists()


# --------------------------------------------------------------------------- the kill switch


def _flow_runs(name: str, state: StateType) -> list[Any]:
    return _api(
        lambda c: c.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[state]))),
        )
    )


def _wait_for(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def sixty(tmp_path: Path) -> tuple[Path, str]:
    """A synthetic program whose first block keeps CP-SAT busy far longer than the test waits."""
    from rotaflow.services.synth import write_bundle

    bundle = tmp_path / "sixty"
    write_bundle(bundle, residents=60, seed=0)
    return bundle, _read_csv(bundle / "blocks.csv")[1][0]["block_id"]


class _Canceller:
    """Runs generate_block in a thread and cancels its flow run through the API while it solves."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, expose_run_id: bool = False, fake_solve: bool = False):
        import rotaflow.tasks.generate as generate_tasks

        self.stops: list[threading.Event] = []
        self.results: list[Any] = []
        self.outcome: dict[str, Any] = {}
        real_solve = service.solve_block

        def solve_spy(instance: Any, rules: Any, settings: Any, **kwargs: Any) -> Any:
            stop: threading.Event = kwargs["stop"]
            self.stops.append(stop)
            if fake_solve:  # the real (instant) tiny solve, held open until the kill switch fires
                result = real_solve(instance, rules, settings, **{**kwargs, "stop": None})
                stop.wait(60)
                result = dataclasses.replace(result, status="cancelled" if stop.is_set() else "timeout")
            else:
                result = real_solve(instance, rules, settings, **kwargs)
            self.results.append(result)
            return result

        monkeypatch.setattr(service, "solve_block", solve_spy)
        if expose_run_id:  # what a worker does for a deployment's run: the run id in the environment
            from prefect.context import FlowRunContext

            real_artifact = generate_tasks.create_progress_artifact

            def artifact_spy(*args: Any, **kwargs: Any) -> Any:
                context = FlowRunContext.get()
                assert context is not None and context.flow_run is not None
                monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(context.flow_run.id))
                return real_artifact(*args, **kwargs)

            monkeypatch.setattr(generate_tasks, "create_progress_artifact", artifact_spy)

    def run(self, bundle: Path, block: str, out: Path, *, wait: float = 15) -> float | None:
        """Seconds from the cancel request to the end of generate_block, or None if it ran on past ``wait``."""

        def target() -> None:
            try:
                self.outcome["state"] = generate_block(
                    str(bundle), block, out_dir=str(out), time_limit_seconds=120, return_state=True
                )
            except BaseException as exc:  # pragma: no cover - reported by the assertions
                self.outcome["error"] = exc

        worker = threading.Thread(target=target, name="generate-block-under-test", daemon=True)
        worker.start()
        try:
            runs = _wait_for(
                "the generate-block run to be Running",
                lambda: [
                    r
                    for r in _flow_runs("generate-block", StateType.RUNNING)
                    if r.parameters.get("program") == str(bundle)
                ],
                60,
            )
            self.flow_run_id = runs[0].id
            _wait_for(
                "the solve task to be Running",
                lambda: (
                    (t := _task_runs(self.flow_run_id).get("solve")) is not None and t.state_type == StateType.RUNNING
                ),
                60,
            )
            _wait_for("the solver to be called", lambda: self.stops, 30)  # the watcher runs from here on
            assert worker.is_alive(), "the solve ended before it could be cancelled"
            response = _api(lambda c: c.set_flow_run_state(self.flow_run_id, Cancelling(), force=True))
            assert response.status.value == "ACCEPT", response
            cancelled_at = time.monotonic()
            worker.join(timeout=wait)
            return None if worker.is_alive() else time.monotonic() - cancelled_at
        finally:
            for stop in self.stops:  # never leave a 120 s solve running behind the other tests
                stop.set()
            worker.join(timeout=30)
            assert not worker.is_alive()

    def final_state(self) -> Any:
        return _api(lambda c: c.read_flow_run(self.flow_run_id)).state


def test_cancelling_the_flow_run_stops_the_solver(
    sixty: tuple[Path, str], tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    canceller = _Canceller(monkeypatch)
    # far below the 120 s limit; generous because a loaded machine may still be building the model
    stopped_after = canceller.run(*sixty, tmp_path / "out", wait=45)
    assert stopped_after is not None, "generate_block kept solving for 45 s after its flow run was cancelled"
    assert stopped_after < 45
    assert "error" not in canceller.outcome, canceller.outcome
    assert [r.status for r in canceller.results] == ["cancelled"]


def test_the_watcher_stops_the_solve_once_it_knows_the_run_id(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the run id in PREFECT__FLOW_RUN_ID (as under a worker) the API's Cancelling reaches the solve."""
    make_solvable(tiny_dir)
    canceller = _Canceller(monkeypatch, expose_run_id=True, fake_solve=True)
    stopped_after = canceller.run(tiny_dir, "B1", tmp_path / "out", wait=15)
    assert stopped_after is not None and stopped_after < 5, "the kill switch did not fire"
    assert [r.status for r in canceller.results] == ["cancelled"]
    assert "error" not in canceller.outcome, canceller.outcome


def test_a_cancelled_run_publishes_nothing(
    tiny_dir: Path, tmp_path: Path, fast_ingest: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_solvable(tiny_dir)
    canceller = _Canceller(monkeypatch, expose_run_id=True, fake_solve=True)
    assert canceller.run(tiny_dir, "B1", tmp_path / "out", wait=15) is not None
    assert [r.status for r in canceller.results] == ["cancelled"]
    assert not [a for a in _all_assignments() if a.deleted_at is None], "the cancelled run published its schedule"
    assert "publish" not in _task_runs(canceller.flow_run_id)
    assert canceller.final_state().is_cancelled()


# --------------------------------------------------------------------------- API connections


def test_a_solve_leaves_no_api_connection_open(tiny_dir: Path) -> None:
    from prefect import flow

    from rotaflow.services.ingest import load_bundle
    from rotaflow.tasks.generate import solve_schedule
    from rotaflow.validations.instances import block_instance, rules_for

    bundle = load_bundle(str(make_solvable(tiny_dir)))
    instance, rules = block_instance(bundle, "B1"), rules_for(bundle)
    settings = service.load_solver_settings(time_limit_seconds=5)

    @flow(name="solve-only")
    def solve_only() -> Any:
        return solve_schedule(instance, rules, settings)

    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        state = solve_only(return_state=True)
        gc.collect()
    assert state.is_completed(), state.message
    assert state.result().progress, "no progress point was reported"
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning) and "socket" in str(w.message)]
    assert leaked == []


def test_the_final_progress_is_written_after_the_watchers_last_move(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A progress move the watcher has in flight when the solve ends must not land after the final 100 %."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactUpdate

    import rotaflow.tasks.generate as generate_tasks
    from rotaflow.services.ingest import load_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    real_watch = generate_tasks._watch_cancellation
    late_update_done = threading.Event()

    def slow_watch(stop: threading.Event, run_id: Any, artifact: Any, *args: Any, **kwargs: Any) -> None:
        real_watch(stop, run_id, artifact, *args, **kwargs)
        time.sleep(0.5)  # an update that was still on the wire when the solve ended
        with get_client(sync_client=True) as client:
            client.update_artifact(artifact, ArtifactUpdate(data=42.0))
        late_update_done.set()

    monkeypatch.setattr(generate_tasks, "_watch_cancellation", slow_watch)
    bundle = load_bundle(str(make_solvable(tiny_dir)))
    instance, rules = block_instance(bundle, "B1"), rules_for(bundle)
    settings = service.load_solver_settings(time_limit_seconds=5)

    @flow(name="solve-only")
    def solve_only() -> Any:
        return generate_tasks.solve_schedule(instance, rules, settings)

    state = solve_only(return_state=True)
    assert state.is_completed(), state.message
    assert late_update_done.wait(15)
    progress = _artifacts("solve-progress", state.state_details.flow_run_id)
    assert len(progress) == 1 and float(progress[0].data) == pytest.approx(100.0)
