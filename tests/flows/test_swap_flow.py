"""The shift-swap flow on Prefect's local API: a swap filed, accepted in the form, the run paused for the
coordinator, then executed (approved) or not (rejected, timed out); an illegal swap fails the run; without
approval the acceptance executes it at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from prefect.events.clients import AssertingEventsClient
from prefect.events.schemas.events import Event
from prefect.events.worker import EventsWorker
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

import rotaflow.flows.swap as swap_flow
import rotaflow.services.planning as planning
import rotaflow.services.swap_board as swap_board
import rotaflow.services.swaps as swaps
from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.errors import InputError
from rotaflow.flows.swap import SwapDecision, describe, rejection, shift_swap
from rotaflow.services.generate import load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.swap_board import SwapRefused, SwapView, cancel_swap, get_swap, list_swaps
from rotaflow.services.swaps import SwapSpec, check_swap, swap_context
from rotaflow.services.versions import block_versions, published_version
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY
from tests.schedules import load, make_solvable

PROGRAM = "tiny-internal-medicine-residency"
RESIDENTS = ("R1", "R2", "R3")


PINNED = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)
"""The instant these tests run at, whatever the real clock says: before the tiny bundle's block (July 2027), so
every one of its days is still ahead."""


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The board's clock (``utcnow``) and every "today" of the swap services read the pinned instant."""

    def today(timezone: str, *, now: dt.datetime | None = None) -> dt.date:
        return planning.program_today(timezone, now=now or PINNED)

    monkeypatch.setattr(swap_board, "utcnow", lambda: PINNED)
    monkeypatch.setattr(swap_board, "program_today", today)
    monkeypatch.setattr(swaps, "program_today", today)


# CP-SAT progress points reported from the solver's threads leave a Prefect client unclosed (see
# tests/flows/test_generate_flow.py): silence that warning here and collect them before the test ends.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Any:
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll the pause every second."""
    monkeypatch.setattr(swap_flow, "APPROVAL_POLL_SECONDS", 1)


class Captured:
    """The events the flow emitted, through Prefect's own testing client (as tests/flows/test_events.py)."""

    def __init__(self, worker: EventsWorker) -> None:
        self.worker = worker

    def named(self, name: str) -> list[Event]:
        self.worker.wait_until_empty()
        client = self.worker._client
        assert isinstance(client, AssertingEventsClient)
        return [e for e in client.events if e.event == name]

    def swaps(self) -> list[str]:
        self.worker.wait_until_empty()
        client = self.worker._client
        assert isinstance(client, AssertingEventsClient)
        return [e.event for e in client.events if e.event.startswith("rotaflow.swap.")]


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    try:
        yield Captured(worker)
    finally:
        worker.drain()


@pytest.fixture(scope="module")
def solved_b1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, SolveResult]:
    """Block B1 of the solvable tiny bundle, solved once for the module."""
    folder = make_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("solve") / "tiny")))
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return instance, result


@dataclass(frozen=True)
class Published:
    """The tiny bundle ingested with B1 published as version 1, a legal trade and an illegal give-away."""

    bundle: Path
    legal: tuple[SwapSpec, str]
    """A trade between two residents of the ward (in the tiny program a give-away between residents always
    breaks a rule: the two ward residents work nearly every day) and its partner."""
    illegal: tuple[SwapSpec, str, str]
    """A give-away, its taker, and the first rule that forbids it."""


def _publish(folder: Path, settings: Settings, solved: tuple[Instance, SolveResult]) -> Published:
    engine = database_engine(settings)
    try:
        stored = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False).result
        instance, result = solved
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
        context = swap_context(engine, load_bundle(str(folder), settings=settings), "B1")
    finally:
        engine.dispose()
    legal: tuple[SwapSpec, str] | None = None
    illegal: tuple[SwapSpec, str, str] | None = None
    cells = sorted(c for c in context.cells if c[0] in RESIDENTS)
    for person, date, shift in cells:
        for taker in RESIDENTS:
            if taker == person or (taker, date, shift) in context.cells:
                continue
            given = SwapSpec(person, date, shift, with_person_id=taker)
            if illegal is None and (findings := check_swap(context, given, taker)):
                illegal = (given, taker, str(findings[0]["rule"]))
            for partner, back, back_shift in cells:
                if legal is not None or partner != taker or (person, back, back_shift) in context.cells:
                    continue
                trade = SwapSpec(person, date, shift, taker, back, back_shift)
                if not check_swap(context, trade, taker):
                    legal = (trade, taker)
        if legal and illegal:
            break
    assert legal and illegal, "B1 has no legal trade or no illegal give-away to test with"
    return Published(folder, legal, illegal)


@pytest.fixture
def published(tiny_dir: Path, settings: Settings, solved_b1: tuple[Instance, SolveResult]) -> Published:
    """Approval by a coordinator (program.yaml's default)."""
    return _publish(make_solvable(tiny_dir), settings, solved_b1)


@pytest.fixture
def no_approval(tiny_dir: Path, settings: Settings, solved_b1: tuple[Instance, SolveResult]) -> Published:
    """``swaps: {approval: none}``: accepting a swap executes it."""
    folder = make_solvable(tiny_dir)
    with (folder / "program.yaml").open("a", encoding="utf-8") as handle:
        handle.write("swaps:\n  approval: none\n")
    return _publish(folder, settings, solved_b1)


# --------------------------------------------------------------------------- helpers


def _api(coro_factory: Callable[[Any], Any]) -> Any:
    async def run() -> Any:
        async with get_client() as client:
            return await coro_factory(client)

    return asyncio.run(run())


def _form(setup: Published, **extra: Any) -> dict[str, Any]:
    spec, taker = setup.legal
    form: dict[str, Any] = {
        "program": str(setup.bundle),
        "person_id": spec.person_id,
        "date": spec.date,
        "shift_id": spec.shift_id,
        "with_person_id": taker,
        "take_date": spec.take_date,
        "take_shift_id": spec.take_shift_id,
    }
    return form | extra


def _in_background(**parameters: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        box["state"] = shift_swap(**parameters, return_state=True)

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


def _versions(settings: Settings) -> list[tuple[int, str, str]]:
    engine = database_engine(settings)
    try:
        return [(v.version, v.status, v.reason) for v in block_versions(engine, PROGRAM, "B1").versions]
    finally:
        engine.dispose()


def _rows(settings: Settings) -> set[tuple[str, dt.date, str]]:
    engine = database_engine(settings)
    try:
        version = published_version(engine, PROGRAM, "B1")
        assert version is not None
        return set(version.rows)
    finally:
        engine.dispose()


def _traded(rows: set[tuple[str, dt.date, str]], spec: SwapSpec, taker: str) -> set[tuple[str, dt.date, str]]:
    """``rows`` after the trade ``spec``: each of the two works the other's shift."""
    assert spec.take_date is not None and spec.take_shift_id is not None
    given, back = (spec.date, spec.shift_id), (spec.take_date, spec.take_shift_id)
    gone = {(spec.person_id, *given), (taker, *back)}
    assert gone <= rows
    return (rows - gone) | {(taker, *given), (spec.person_id, *back)}


def _wait_paused(setup: Published, box: dict[str, Any], settings: Settings) -> Any:
    """The paused run, after checking its artifact and Resume dialog say who gives what to whom, ids only."""
    spec, taker = setup.legal
    run = _paused_run(setup.bundle, box)
    posted = _artifact("swap-request", run.id).data
    assert spec.take_date is not None
    gives = (
        f"**{spec.person_id}** gives **{spec.shift_id}** on **{spec.date.isoformat()}** to **{taker}** "
        f"and takes **{spec.take_shift_id}** on **{spec.take_date.isoformat()}**"
    )
    assert gives in posted and "trade in block B1" in posted and "state: **accepted**" in posted
    assert "Resident" not in posted and "@example.org" not in posted  # person ids only
    assert run.state.state_details.pause_key.startswith("approve-swap-")
    description = read_flow_run_input(f"paused-{run.state.state_details.pause_key}-description", flow_run_id=run.id)
    assert description and gives in description and "**Approve**" in description
    assert _versions(settings) == [(1, "published", "generate")]  # nothing executed while it waits
    return run


# --------------------------------------------------------------------------- approval by a coordinator


def test_an_approved_swap_is_executed_as_the_next_version(
    published: Published, settings: Settings, events: Captured
) -> None:
    spec, taker = published.legal
    before = _rows(settings)
    thread, box = _in_background(**_form(published, accepted_by=taker, note="Resident One asked"))
    run = _wait_paused(published, box, settings)
    assert "Resident One" not in _artifact("swap-request", run.id).data  # the note stays in the request

    resume_flow_run(run.id, run_input={"approve": True, "reason": ""})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["state"], result["kind"], result["version"]) == ("executed", "trade", 2)
    assert state.message == f"swap request {result['id']} (trade, block B1): executed as version 2"
    assert result["accepted_by"] == taker and result["block_id"] == "B1"
    assert _versions(settings) == [(1, "published", "generate"), (2, "published", "swap")]
    assert _rows(settings) == _traded(before, spec, taker)
    assert events.swaps() == ["rotaflow.swap.needs-approval", "rotaflow.swap.approved"]
    (approved,) = events.named("rotaflow.swap.approved")
    assert approved.resource.id == f"rotaflow.program.{PROGRAM}"
    assert approved.payload == {
        "swap_id": result["id"],
        "kind": "trade",
        "block_id": "B1",
        "person_id": spec.person_id,
        "with_person_id": taker,
        "version": 2,
    }


def test_a_rejected_swap_changes_nothing_and_keeps_the_reason(
    published: Published, settings: Settings, events: Captured
) -> None:
    _, taker = published.legal
    before = _rows(settings)
    thread, box = _in_background(**_form(published, accepted_by=taker))
    run = _wait_paused(published, box, settings)
    resume_flow_run(run.id, run_input={"approve": False, "reason": "  R1 is needed on the ward  "})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["state"], result["reason"], result["version"]) == ("rejected", "R1 is needed on the ward", None)
    assert _versions(settings) == [(1, "published", "generate")] and _rows(settings) == before
    assert events.swaps() == ["rotaflow.swap.needs-approval", "rotaflow.swap.rejected"]
    (rejected,) = events.named("rotaflow.swap.rejected")
    assert rejected.payload["swap_id"] == result["id"] and rejected.payload["timed_out"] is False
    assert "R1 is needed" not in str(rejected.payload)  # the reason is free text: only in the request


def test_no_decision_before_the_timeout_rejects_the_swap(published: Published, settings: Settings) -> None:
    _, taker = published.legal
    started = time.monotonic()
    state = shift_swap(**_form(published, accepted_by=taker, approval_timeout_hours=2 / 3600), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["state"], result["reason"]) == ("rejected", "no decision within 2 seconds")
    assert time.monotonic() - started < 50
    assert _versions(settings) == [(1, "published", "generate")]


def _only_request(settings: Settings) -> SwapView:
    engine = database_engine(settings)
    try:
        [view] = list_swaps(engine, PROGRAM)
    finally:
        engine.dispose()
    return view


def test_a_request_cancelled_while_the_run_waits_completes_the_run_as_cancelled(
    published: Published, settings: Settings, events: Captured
) -> None:
    _, taker = published.legal
    before = _rows(settings)
    thread, box = _in_background(**_form(published, accepted_by=taker))
    run = _wait_paused(published, box, settings)
    waiting = _only_request(settings)
    engine = database_engine(settings)
    try:
        assert cancel_swap(engine, waiting.id).state == "cancelled"  # `rotaflow swap cancel` meanwhile
    finally:
        engine.dispose()

    resume_flow_run(run.id, run_input={"approve": True, "reason": ""})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["id"], result["state"], result["version"]) == (waiting.id, "cancelled", None)
    assert _versions(settings) == [(1, "published", "generate")] and _rows(settings) == before
    assert events.swaps() == ["rotaflow.swap.needs-approval"]  # neither approved nor rejected by this run


def test_a_request_whose_shift_started_while_the_run_waits_ends_expired(
    published: Published,
    settings: Settings,
    events: Captured,
    solved_b1: tuple[Instance, SolveResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, taker = published.legal
    assert spec.take_date is not None and spec.take_shift_id is not None
    before = _rows(settings)
    thread, box = _in_background(**_form(published, accepted_by=taker))
    run = _wait_paused(published, box, settings)
    instance = solved_b1[0]
    first = min(
        instance.slot(instance.day_index(date), shift).start
        for date, shift in ((spec.date, spec.shift_id), (spec.take_date, spec.take_shift_id))
    )
    monkeypatch.setattr(swap_board, "utcnow", lambda: first + dt.timedelta(minutes=1))  # the shift has begun

    resume_flow_run(run.id, run_input={"approve": True, "reason": ""})
    thread.join(120)
    state = box["state"]
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["state"], result["version"]) == ("expired", None)
    assert "started" in (result["reason"] or "")
    assert _only_request(settings).state == "expired"
    assert _versions(settings) == [(1, "published", "generate")] and _rows(settings) == before
    assert events.swaps() == ["rotaflow.swap.needs-approval"]


def test_a_bundle_edited_since_its_ingest_fails_the_run_and_records_nothing(
    published: Published, settings: Settings, events: Captured
) -> None:
    _, taker = published.legal
    with (published.bundle / "program.yaml").open("a", encoding="utf-8") as handle:
        handle.write("swaps:\n  approval: none\n")  # the policy changed, not ingested
    state = shift_swap(**_form(published, accepted_by=taker), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError)
    assert "form, column program: expected the bundle as last ingested (version 1)" in str(state.message)
    assert f"rotaflow ingest --program {published.bundle}" in str(error)
    engine = database_engine(settings)
    try:
        assert list_swaps(engine, PROGRAM) == []
    finally:
        engine.dispose()
    assert _versions(settings) == [(1, "published", "generate")]
    assert events.swaps() == []


# --------------------------------------------------------------------------- an illegal swap


def test_an_illegal_swap_fails_the_run_naming_the_rule(
    published: Published, settings: Settings, events: Captured
) -> None:
    spec, taker, rule = published.illegal
    state = shift_swap(str(published.bundle), spec.person_id, spec.date, spec.shift_id, taker, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, SwapRefused) and rule in state.message and rule in str(error)
    engine = database_engine(settings)
    try:
        [refused] = list_swaps(engine, PROGRAM)
    finally:
        engine.dispose()
    assert refused.state == "refused" and rule in (refused.reason or "")
    assert _versions(settings) == [(1, "published", "generate")]
    (failed,) = events.named("rotaflow.swap.failed")
    assert failed.payload["swap_id"] == refused.id and rule in failed.payload["rules"]
    assert failed.payload["person_id"] == spec.person_id and failed.payload["with_person_id"] == taker
    assert events.swaps() == ["rotaflow.swap.failed"]


def test_a_shift_the_person_does_not_work_fails_the_run_and_records_nothing(
    published: Published, settings: Settings, events: Captured
) -> None:
    spec, taker = published.legal
    backwards = _form(published, person_id=taker, with_person_id=spec.person_id)  # the giver and taker swapped
    state = shift_swap(**backwards, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError) and "--person/--date/--shift" in str(error)
    engine = database_engine(settings)
    try:
        assert list_swaps(engine, PROGRAM) == []
    finally:
        engine.dispose()
    assert events.swaps() == []  # bad input is no swap event: the failed-run automation catches it


# --------------------------------------------------------------------------- no approval needed


def test_without_approval_accepting_executes_at_once(
    no_approval: Published, settings: Settings, events: Captured
) -> None:
    spec, taker = no_approval.legal
    before = _rows(settings)
    state = shift_swap(**_form(no_approval, accepted_by=taker), return_state=True)  # never pauses: no thread
    assert state.is_completed(), state.message
    result = state.result()
    assert (result["state"], result["version"], result["accepted_by"]) == ("executed", 2, taker)
    assert _versions(settings) == [(1, "published", "generate"), (2, "published", "swap")]
    assert _rows(settings) == _traded(before, spec, taker)
    assert events.swaps() == ["rotaflow.swap.executed"]


def test_a_request_left_waiting_is_accepted_later_by_its_id(no_approval: Published, settings: Settings) -> None:
    _, taker = no_approval.legal
    filed = shift_swap(**_form(no_approval), return_state=True)
    assert filed.is_completed(), filed.message
    waiting = filed.result()
    assert (waiting["state"], waiting["with_person_id"], waiting["version"]) == ("requested", taker, None)
    assert _versions(settings) == [(1, "published", "generate")]

    wrong = shift_swap(
        **_form(no_approval, shift_id="NIGHT-X", swap_id=waiting["id"], accepted_by=taker), return_state=True
    )
    assert wrong.is_failed() and isinstance(wrong.result(raise_on_failure=False), InputError)
    assert "swap_id" in str(wrong.message) and f"request {waiting['id']}" in str(wrong.message)

    taken = shift_swap(**_form(no_approval, swap_id=waiting["id"], accepted_by=taker), return_state=True)
    assert taken.is_completed(), taken.message
    assert (taken.result()["id"], taken.result()["state"]) == (waiting["id"], "executed")
    engine = database_engine(settings)
    try:
        assert get_swap(engine, waiting["id"]).version == 2
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the decision and the artifact


@pytest.mark.parametrize(
    ("approve", "reason", "expected"),
    [
        (True, "", None),
        (True, "fine", None),
        (False, "R2 has too many nights", "R2 has too many nights"),
        (False, "  \n ", "rejected without a reason"),
    ],
)
def test_a_decision_executes_or_says_why_not(approve: bool, reason: str, expected: str | None) -> None:
    assert rejection(SwapDecision(approve=approve, reason=reason)) == expected


def _view(**changes: Any) -> SwapView:
    base: dict[str, Any] = {
        "id": 7,
        "kind": "trade",
        "state": "accepted",
        "person_id": "R1",
        "date": dt.date(2027, 7, 5),
        "shift_id": "DAY",
        "with_person_id": "R2",
        "take_date": dt.date(2027, 7, 9),
        "take_shift_id": "NIGHT",
        "created_at": dt.datetime(2027, 6, 1, 9, 30, tzinfo=dt.UTC),
        "executed_at": None,
        "version": None,
        "reason": None,
        "block_id": "B1",
        "accepted_by": "R2",
        "note": "Resident One's wedding",
        "undo_version": None,
        "out_dir": None,
    }
    return SwapView(**(base | changes))


def test_the_request_is_described_by_ids_without_the_note() -> None:
    trade = describe(_view())
    assert "## Swap request 7: trade in block B1" in trade
    assert "**R1** gives **DAY** on **2027-07-05** to **R2** and takes **NIGHT** on **2027-07-09**" in trade
    assert "accepted by **R2**" in trade and "wedding" not in trade and "Resident" not in trade
    offer = describe(_view(kind="offer", with_person_id=None, take_date=None, take_shift_id=None, accepted_by="R3"))
    assert "to whoever takes the open offer: **R3**" in offer
