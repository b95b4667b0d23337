"""The absence-repair flow on Prefect's local API: absence recorded, diff posted, the run paused for the
decision, then published (approved) or not (rejected, timed out); a bad absence fails before anything."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gc
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

import rotaflow.flows.absence_repair as absence_flow
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.constraints.instance import Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.errors import InputError
from rotaflow.flows.absence_repair import ACTOR, RepairDecision, absence_repair, duration, rejection
from rotaflow.services.generate import load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.versions import block_versions
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY
from tests.schedules import load, make_solvable

PROGRAM = "tiny-internal-medicine-residency"
ABSENT = "R2"
START, END = dt.date(2027, 7, 15), dt.date(2027, 7, 16)

# CP-SAT progress points reported from the solver's threads leave a Prefect client unclosed (see
# tests/flows/test_generate_flow.py): silence that warning here and collect them before the test ends.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


TODAY = dt.date(2027, 6, 1)
"""The day the tests run on, in the program's timezone: before the blocks, so every repair date is ahead."""


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rotaflow.services.repair.program_today", lambda timezone, **_: TODAY)


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Any:
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the Great Expectations suites and Data Docs (seconds per run; covered by the ingest and validate flow
    tests); poll the pause every second."""
    import rotaflow.services.ingest as ingest_service
    import rotaflow.services.validate as validate_service
    from rotaflow.validations.expectations import ExpectationReport

    monkeypatch.setattr(
        ingest_service, "check_expectations", lambda bundle, settings=None: ExpectationReport(True, [], None, 0, 0)
    )
    monkeypatch.setattr(validate_service, "_data_docs", lambda *args, **kwargs: (None, None))
    monkeypatch.setattr(absence_flow, "APPROVAL_POLL_SECONDS", 1)


@pytest.fixture(scope="module")
def solved_b1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, SolveResult]:
    """Block B1 of the solvable tiny bundle, solved once for the module."""
    folder = make_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("solve") / "tiny")))
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return instance, result


@pytest.fixture
def published(tiny_dir: Path, settings: Settings, solved_b1: tuple[Instance, SolveResult]) -> Iterator[Path]:
    """The solvable tiny bundle ingested, with block B1 published as version 1 (as a generation does)."""
    bundle = make_solvable(tiny_dir)
    engine = database_engine(settings)
    stored = ingest_bundle(str(bundle), settings=settings, engine=engine, expectations=False).result
    instance, result = solved_b1
    summary = GenerateResult.start(
        run_id=str(uuid.uuid4()),
        program=PROGRAM,
        program_version=stored.version,
        block_id="B1",
        rules=[],
        time_limit_seconds=5,
    ).solved(result)
    made = publish_run(
        engine,
        program_key=PROGRAM,
        version=stored.version,
        instance=instance,
        result=result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
    )
    assert made.block_version == 1
    yield bundle
    engine.dispose()


# --------------------------------------------------------------------------- helpers


def _api(coro_factory: Any) -> Any:
    async def run() -> Any:
        async with get_client() as client:
            return await coro_factory(client)

    return asyncio.run(run())


def _in_background(bundle: Path, **extra: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        box["state"] = absence_repair(
            str(bundle), "B1", ABSENT, START, END, time_limit_seconds=2, return_state=True, **extra
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _paused_run(bundle: Path, box: dict[str, Any], deadline: float = 60.0) -> Any:
    """The run of ``bundle`` once it is Paused (fails at once if the run ended instead)."""
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if "state" in box:
            raise AssertionError(f"the run ended without pausing: {box['state'].message}")
        runs = _api(lambda c: c.read_flow_runs(flow_run_filter=paused))
        found = [r for r in runs if r.parameters.get("program") == str(bundle)]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError("the flow run never paused")


def _artifact(key: str, flow_run_id: object) -> Any:
    found = _api(lambda c: c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))
    [artifact] = [a for a in found if a.flow_run_id == flow_run_id]
    return artifact


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _absences(bundle: Path) -> list[dict[str, str]]:
    return _rows(bundle / "absences.csv")


def _versions() -> list[tuple[int, str, str, str]]:
    listed = block_versions(database_engine(get_settings()), PROGRAM, "B1").versions
    return [(v.version, v.status, v.reason, v.actor) for v in listed]


def _wait_paused_with_diff(bundle: Path, box: dict[str, Any]) -> tuple[Any, list[dict[str, str]]]:
    """The paused run, after checking its artifacts and Resume dialog hold the repair's changes."""
    run = _paused_run(bundle, box)
    [out] = (get_settings().var_dir / "runs").glob(f"{PROGRAM}-B1-repair-*")
    changes = _rows(out / "changes.csv")
    assert changes and {r["reason"] for r in changes} == {"repair"}
    assert any(
        r["person_id"] == ABSENT and r["change"] == "removed" and START.isoformat() <= r["date"] for r in changes
    )

    table = _artifact("repair-changes", run.id)
    posted = json.loads(table.data)
    assert [(r["change"], r["person_id"], r["date"], r["shift_id"]) for r in posted] == [
        (r["change"], r["person_id"], r["date"], r["shift_id"]) for r in changes
    ]
    summary = _artifact("repair-summary", run.id).data
    people = sorted({r["person_id"] for r in changes})
    assert "block B1" in summary and "based on version **1**" in summary and str(out.resolve()) in summary
    assert f"people affected ({len(people)}): {', '.join(people)}" in summary
    assert "Resident Two" not in summary and "r2@example.org" not in summary  # person ids only

    assert run.state.state_details.pause_key.startswith("approve-")
    description = read_flow_run_input(f"paused-{run.state.state_details.pause_key}-description", flow_run_id=run.id)
    assert description and "proved minimum" in description and f"| removed | {ABSENT} |" in description
    assert _versions() == [(1, "published", "generate", "rotaflow generate")]  # nothing published while it waits
    return run, changes


# --------------------------------------------------------------------------- approve, reject, time out


def test_an_approved_repair_is_published_as_the_next_version(published: Path) -> None:
    thread, box = _in_background(published)
    run, changes = _wait_paused_with_diff(published, box)
    assert {"person_id": ABSENT, "start_date": "2027-07-15", "end_date": "2027-07-16", "type": "sick"}.items() <= (
        _absences(published)[-1].items()
    )

    resume_flow_run(run.id, run_input={"approve": True, "reason": ""})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["published"] is True and summary["version"] == 2 and summary["based_on_version"] == 1
    changed, backup_id = summary["repair"]["changes"], summary["backup"]["backup_id"]
    assert state.message == f"repaired B1: {changed} change(s); published version 2, backup {backup_id}"
    assert "rejected" not in summary["repair"]
    assert _versions() == [(1, "published", "generate", "rotaflow generate"), (2, "published", "repair", ACTOR)]
    final = _rows(Path(summary["out_dir"]) / "changes.csv")  # rewritten with the version it made
    assert {r["to_version"] for r in final} == {"2"} and len(final) == len(changes)
    assert _absences(published)[-1]["blocking"] == "true"


def test_a_rejected_repair_publishes_nothing_and_keeps_the_reason(published: Path) -> None:
    thread, box = _in_background(published)
    run, _ = _wait_paused_with_diff(published, box)
    resume_flow_run(run.id, run_input={"approve": False, "reason": "  covered by a swap instead  "})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["repair"]["rejected"] == "covered by a swap instead"
    assert not summary.get("published") and summary.get("version") is None
    assert json.loads((Path(summary["out_dir"]) / "summary.json").read_text())["repair"]["rejected"] == (
        "covered by a swap instead"
    )
    assert _versions() == [(1, "published", "generate", "rotaflow generate")]


def test_no_decision_before_the_timeout_rejects_the_repair(published: Path) -> None:
    started = time.monotonic()
    state = absence_repair(
        str(published), "B1", ABSENT, START, END, time_limit_seconds=2, approval_timeout_hours=2 / 3600,
        return_state=True,
    )  # fmt: skip
    assert state.is_completed(), state.message
    assert state.result()["repair"]["rejected"] == "no decision within 2 seconds"
    assert time.monotonic() - started < 50
    assert _versions() == [(1, "published", "generate", "rotaflow generate")]


# --------------------------------------------------------------------------- a bad absence


def test_an_unknown_person_fails_the_run_before_anything_is_written(published: Path) -> None:
    before = (published / "absences.csv").read_bytes()
    state = absence_repair(str(published), "B1", "NOBODY", START, END, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError)
    assert "person_id" in str(error) and "NOBODY" in str(error)
    assert (published / "absences.csv").read_bytes() == before
    assert not (get_settings().var_dir / "runs").exists() or not list((get_settings().var_dir / "runs").iterdir())


def test_a_block_with_nothing_published_fails_the_run_before_the_absence_is_recorded(tiny_dir: Path) -> None:
    before = (tiny_dir / "absences.csv").read_bytes()
    for block, got in (("B1", "B1 has no published version"), ("B9", "B9")):
        state = absence_repair(str(tiny_dir), block, "R1", START, END, return_state=True)
        assert state.is_failed()
        error = state.result(raise_on_failure=False)
        assert isinstance(error, InputError) and "block_id" in str(error) and got in str(error)
    assert (tiny_dir / "absences.csv").read_bytes() == before


# --------------------------------------------------------------------------- the decision


@pytest.mark.parametrize(
    ("approve", "reason", "expected"),
    [
        (True, "", None),
        (True, "fine", None),
        (False, "too many nights for R1", "too many nights for R1"),
        (False, "  \n ", "rejected without a reason"),
        (False, "", "rejected without a reason"),
    ],
)
def test_a_decision_publishes_or_says_why_not(approve: bool, reason: str, expected: str | None) -> None:
    assert rejection(RepairDecision(approve=approve, reason=reason)) == expected


def test_the_timeout_is_said_in_words() -> None:
    assert [duration(h) for h in (72, 1, 0.5, 1 / 60, 2 / 3600)] == [
        "72 hours",
        "1 hour",
        "30 minutes",
        "1 minute",
        "2 seconds",
    ]
