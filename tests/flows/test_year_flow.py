"""The year-planning flow on Prefect's local API: the tiny bundle's year planned into the run's folder, shown
as an artifact (person ids, never names) and announced by an event; published when asked; an impossible year
and a bad bundle fail the run with the diagnosis or the located error."""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events.clients import AssertingEventsClient
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker
from prefect.states import Cancelling

import rotaflow.flows.year as year_flow
from rotaflow.configs.settings import Settings
from rotaflow.errors import InfeasibleError, InputError
from rotaflow.flows.year import year_planning
from rotaflow.services.ingest import database_engine
from rotaflow.services.year import YearPlan, published_plan

PROGRAM = "tiny-internal-medicine-residency"
NAMES = ("Resident One", "Resident Two", "Resident Three", "Faculty One", "@example.org")

pytestmark = [
    pytest.mark.flow,
    # CP-SAT progress points reported from the solver's threads leave a Prefect client unclosed (see
    # tests/flows/test_generate_flow.py): silence that warning here and collect them before the test ends.
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Any:
    yield
    gc.collect()


class Captured:
    """The events the flow emitted, through Prefect's own testing client (as tests/flows/test_events.py)."""

    def __init__(self, worker: EventsWorker) -> None:
        self.worker = worker

    def named(self, name: str) -> list[Event]:
        self.worker.wait_until_empty()
        client = self.worker._client
        assert isinstance(client, AssertingEventsClient)
        return [e for e in client.events if e.event == name]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    try:
        yield Captured(worker)
    finally:
        worker.drain()


# --------------------------------------------------------------------------- the bundle


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def year_dir(tiny_dir: Path) -> Path:
    """The tiny bundle with year planning inputs: each resident does at least one block of WARD and at most one
    of NF, which takes one resident a block; R3 (PGY-3) is away on vacation in B2, which only VAC (a leave
    rotation, allowed to PGY-3) covers; R1 and R2 both wish for NF in B1, where only one of them fits."""
    _write(
        tiny_dir / "rotations.csv",
        "rotation_id,name,setting,eligible_shifts,min_residents,max_residents\n"
        "WARD,Ward,inpatient,DAY;CALL24;HOME,,3\n"
        "NF,Night float,night_float,NIGHT,,1\n"
        "VAC,Vacation,leave,,,\n",
    )
    _write(
        tiny_dir / "rotation_requirements.csv",
        "pgy,rotation_id,min_blocks,max_blocks\n1,WARD,1,\n1,NF,0,1\n2,WARD,1,\n2,NF,0,1\n3,WARD,1,\n3,NF,0,1\n"
        "3,VAC,0,1\n",
    )
    _write(
        tiny_dir / "rotation_requests.csv",
        "person_id,block_id,rotation_id,kind,weight\nR1,B1,NF,on,2\nR2,B1,NF,on,1\n",
    )
    with (tiny_dir / "absences.csv").open("a", encoding="utf-8") as handle:
        handle.write("R3,2027-08-10,2027-08-12,vacation,true\n")
    return tiny_dir


def _impossible(folder: Path) -> Path:
    """The PGY-1 and the PGY-2 resident must each do a block of NF, which takes nobody in B1 (rotation_capacity.csv)
    and one resident in B2: two resident-blocks of demand for one of capacity."""
    text = (folder / "rotation_requirements.csv").read_text(encoding="utf-8")
    text = text.replace("1,NF,0,1", "1,NF,1,1").replace("2,NF,0,1", "2,NF,1,1")
    _write(folder / "rotation_requirements.csv", text)
    _write(folder / "rotation_capacity.csv", "block_id,rotation_id,min_residents,max_residents\nB1,NF,,0\n")
    return folder


# --------------------------------------------------------------------------- helpers


def _api(coro_factory: Callable[[Any], Any]) -> Any:
    async def run() -> Any:
        async with get_client() as client:
            return await coro_factory(client)

    return asyncio.run(run())


def _artifact(key: str, flow_run_id: object) -> str:
    found = _api(lambda c: c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))))
    [artifact] = [a for a in found if a.flow_run_id == flow_run_id]
    return str(artifact.data)


def _plan_rows(folder: Path) -> dict[tuple[str, str], str]:
    with (folder / "rotation_assignments.csv").open(newline="", encoding="utf-8") as handle:
        return {(r["person_id"], r["block_id"]): r["rotation_id"] for r in csv.DictReader(handle)}


def _stored(settings: Settings) -> Any:
    engine = database_engine(settings)
    try:
        return published_plan(engine, PROGRAM)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- a plan


def test_the_year_is_planned_into_the_run_folder(year_dir: Path, settings: Settings, events: Captured) -> None:
    state = year_planning(str(year_dir), time_limit_seconds=20, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["program"] == PROGRAM and result["status"] == "optimal"
    assert (result["residents"], result["blocks"], result["published"]) == (3, 2, None)
    assert (
        state.message
        == f"planned 3 resident(s) over 2 block(s) (optimal); {len(result['unmet'])} wish(es) not granted; not published"
    )
    out = Path(result["out_dir"])
    assert out.parent == (Path(settings.var_dir) / "runs").resolve() and out.name.startswith(f"{PROGRAM}-year-")
    assert sorted(result["files"]) == ["plan_summary.json", "rotation_assignments.csv", "year.html"]
    assert {p.name for p in out.iterdir()} >= set(result["files"])
    assert json.loads((out / ".rotaflow-run.json").read_text())["files"] == result["files"]

    plan = _plan_rows(out)
    assert set(plan) == {(p, b) for p in ("R1", "R2", "R3") for b in ("B1", "B2")}
    assert plan["R3", "B2"] == "VAC"  # the vacation falls on the leave rotation
    assert [plan[p, "B1"] for p in ("R1", "R2", "R3")].count("NF") == 1  # NF takes one resident a block
    assert all(sum(plan[p, b] == "WARD" for b in ("B1", "B2")) >= 1 for p in ("R1", "R2", "R3"))
    assert plan["R1", "B1"] == "NF"  # the heavier of the two wishes for the one place
    assert result["unmet"] == [
        {
            "kind": "wish",
            "person_id": "R2",
            "block_id": "B1",
            "rotation_id": "NF",
            "reason": result["unmet"][0]["reason"],
        }
    ]
    summary = json.loads((out / "plan_summary.json").read_text())
    assert summary["status"] == "optimal" and summary["unmet"] == result["unmet"]

    posted = _artifact("year-plan", state.state_details.flow_run_id)
    assert f"# Year plan of `{PROGRAM}`: **optimal**" in posted
    assert "| resident (PGY) | B1 | B2 |" in posted
    for person in ("R1", "R2", "R3"):
        row = next(line for line in posted.splitlines() if line.startswith(f"| {person} ("))
        assert [cell.strip() for cell in row.strip("|").split("|")][1:] == [
            plan[person, b] + (" ✈" if (person, b) == ("R3", "B2") else "") for b in ("B1", "B2")
        ]
    assert "## Head-count per block (capacity)" in posted
    count = {(r, b): sum(plan[p, b] == r for p in ("R1", "R2", "R3")) for r in ("WARD", "NF") for b in ("B1", "B2")}
    assert f"| WARD | {count['WARD', 'B1']} (≤ 3) | {count['WARD', 'B2']} (≤ 3) |" in posted
    assert f"| NF | 1 (≤ 1) | {count['NF', 'B2']} (≤ 1) |" in posted
    assert "| VAC | 0 | 1 |" in posted  # no capacity: the head-count alone
    assert "## Not granted" in posted and "- **R2**, block B1, NF (wish): " in posted
    assert not any(name in posted for name in NAMES)  # person ids only

    (event,) = events.named("rotaflow.year.planned")
    assert event.resource.id == f"rotaflow.program.{PROGRAM}"
    assert event.payload == {
        "status": "optimal",
        "objective": result["objective"],
        "best_bound": result["best_bound"],
        "residents": 3,
        "blocks": 2,
        "unmet": 1,
        "published": None,
    }
    assert events.named("rotaflow.year.failed") == []
    assert _stored(settings) is None  # not published unless asked


def test_a_published_plan_is_the_programs_year_plan(year_dir: Path, settings: Settings, events: Captured) -> None:
    state = year_planning(str(year_dir), time_limit_seconds=20, publish=True, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["published"] == 1
    stored = _stored(settings)
    assert stored is not None and stored.number == 1
    plan = _plan_rows(Path(result["out_dir"]))
    assert {(p, b): r for p, b, r, _locked, _source in stored.rows} == plan
    assert "- published as year plan **1**" in _artifact("year-plan", state.state_details.flow_run_id)
    (event,) = events.named("rotaflow.year.planned")
    assert event.payload["published"] == 1

    again = year_planning(str(year_dir), time_limit_seconds=20, publish=True, return_state=True)
    assert again.is_completed(), again.message
    assert again.result()["published"] == 2  # the newer plan supersedes the first
    assert again.result()["out_dir"] != result["out_dir"]  # each run its own folder
    stored = _stored(settings)
    assert stored is not None and stored.number == 2


def test_soft_vacation_is_a_form_choice(year_dir: Path, events: Captured) -> None:
    state = year_planning(str(year_dir), time_limit_seconds=20, vacation="soft", return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["vacation"] == "soft"
    assert _plan_rows(Path(result["out_dir"]))["R3", "B2"] == "VAC"  # granted: nothing stands in its way


# --------------------------------------------------------------------------- failures


def test_an_impossible_year_fails_with_its_diagnosis(year_dir: Path, settings: Settings, events: Captured) -> None:
    state = year_planning(str(_impossible(year_dir)), time_limit_seconds=20, publish=True, return_state=True)
    assert state.is_failed()
    message = str(state.message)
    assert message.startswith("the year cannot be planned: ")
    assert "the 1 PGY-1 resident must each do at least 1 block of NF" in message
    assert "the 1 PGY-2 resident must each do at least 1 block of NF" in message
    assert "NF takes at most 0 residents in block B1 (rotation_capacity.csv)" in message
    assert "year.html" in message
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InfeasibleError) and error.summary is not None
    assert error.summary["status"] == "infeasible" and error.summary["published"] is None
    out = Path(error.summary["out_dir"])
    assert sorted(error.summary["files"]) == ["plan_summary.json", "year.html"]  # no plan to write
    assert not (out / "rotation_assignments.csv").exists()
    kinds = {g["kind"] for g in json.loads((out / "plan_summary.json").read_text())["diagnosis"]}
    assert kinds == {"requirement", "capacity"}
    assert "Why no plan is possible" in (out / "year.html").read_text()

    posted = _artifact("year-plan", state.state_details.flow_run_id)
    assert "**infeasible**" in posted and "## Why no plan is possible" in posted
    assert "- NF takes at most 0 residents in block B1 (rotation_capacity.csv)" in posted
    assert "## Rotations" not in posted

    (event,) = events.named("rotaflow.year.failed")
    assert event.resource.id == f"rotaflow.program.{PROGRAM}"
    assert event.payload["reason"] == "the year cannot be planned"
    assert event.payload["status"] == "infeasible"
    assert sorted(set(event.payload["conflicts"])) == ["capacity", "requirement"]
    assert events.named("rotaflow.year.planned") == []
    assert _stored(settings) is None  # nothing published


def test_a_bad_bundle_fails_with_the_located_error(year_dir: Path, settings: Settings, events: Captured) -> None:
    _write(year_dir / "rotation_requirements.csv", "pgy,rotation_id,min_blocks,max_blocks\n1,SURGERY,1,\n")
    state = year_planning(str(year_dir), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError)
    assert "rotation_requirements.csv" in str(state.message) and "SURGERY" in str(state.message)
    (event,) = events.named("rotaflow.year.failed")
    assert event.resource.id == f"rotaflow.program.{year_dir.name}"
    assert event.payload == {"reason": "the bundle broke its contract"}
    assert not (Path(settings.var_dir) / "runs").exists()  # nothing written


def test_a_time_limit_that_is_not_positive_is_refused(year_dir: Path, settings: Settings) -> None:
    state = year_planning(str(year_dir), time_limit_seconds=0, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError)
    assert "time_limit_seconds" in str(state.message)
    assert not (Path(settings.var_dir) / "runs").exists()


# --------------------------------------------------------------------------- cancellation


def test_cancelling_the_run_stops_the_planner(
    year_dir: Path, settings: Settings, events: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's kill switch (as block generation's) reaches the planner: the tiny year is planned for real, then
    held open until the stop event fires (the tiny search ends before any cancel could reach it)."""
    from prefect.context import FlowRunContext

    real_plan = year_flow.run_plan
    seen: dict[str, Any] = {}

    def held_open(bundle: Any, **kwargs: Any) -> YearPlan:
        stop: threading.Event = kwargs["stop"]
        context = FlowRunContext.get()
        assert context is not None and context.flow_run is not None
        plan = real_plan(bundle, **{**kwargs, "stop": None})
        seen["run"] = context.flow_run.id
        seen["stopped"] = stop.wait(60)
        plan.result.status = "cancelled" if seen["stopped"] else "timeout"
        return plan

    monkeypatch.setattr(year_flow, "run_plan", held_open)
    box: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: box.update(state=year_planning(str(year_dir), time_limit_seconds=120, return_state=True)),
        daemon=True,
    )
    worker.start()
    deadline = time.monotonic() + 60
    while "run" not in seen and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "run" in seen, "the planner was never called"
    response = _api(lambda c: c.set_flow_run_state(seen["run"], Cancelling(), force=True))
    assert response.status.value == "ACCEPT", response
    cancelled_at = time.monotonic()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the run kept planning after it was cancelled"
    assert seen["stopped"] and time.monotonic() - cancelled_at < 30
    state = box["state"]
    assert state.is_cancelled(), state.message
    assert "cancelled after" in str(state.message)
    assert not (Path(settings.var_dir) / "runs").exists()  # nothing written
    assert events.named("rotaflow.year.planned") == [] and events.named("rotaflow.year.failed") == []
