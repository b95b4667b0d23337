"""``rotaflow swap …`` on a database where the tiny bundle's block B1 was published (version 1)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

import rotaflow.services.planning as planning
import rotaflow.services.swap_board as swap_board
import rotaflow.services.swaps as swaps
from rotaflow.cli import main
from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.services.generate import load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.versions import published_version
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY
from tests.schedules import load, make_solvable

PROGRAM = "tiny-internal-medicine-residency"
VIEW_KEYS = [
    "id", "kind", "state", "person_id", "date", "shift_id", "with_person_id", "take_date", "take_shift_id",
    "created_at", "executed_at", "version", "reason",
]  # fmt: skip
"""The keys FORMATS gives a request, in its order (the extra ones follow)."""


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


@dataclass(frozen=True)
class Solved:
    instance: Instance
    result: SolveResult


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    """Block B1 of the (solvable) tiny bundle, solved once for the module."""
    folder = make_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("solve") / "tiny")))
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return Solved(instance, result)


@dataclass(frozen=True)
class Board:
    bundle: Path
    engine: Engine
    instance: Instance
    cells: frozenset[Cell]

    def rows(self) -> frozenset[tuple[str, dt.date, str]]:
        return frozenset((p, self.instance.date(d), s) for p, d, s in self.cells)


def _board(folder: Path, settings: Settings, solved: Solved, approval: str | None) -> Iterator[Board]:
    """The solvable tiny bundle (with ``swaps: {approval: …}`` when given) ingested into the settings'
    database, the one the commands open, and B1 published from the module's solution as version 1."""
    bundle = make_solvable(folder)
    if approval is not None:
        with (bundle / "program.yaml").open("a", encoding="utf-8") as handle:
            handle.write(f"swaps:\n  approval: {approval}\n  undo_hours: 24\n")
    engine = database_engine(settings)
    version = ingest_bundle(str(bundle), settings=settings, engine=engine, expectations=False).result.version
    run_id = str(uuid.uuid4())
    summary = GenerateResult.start(
        run_id=run_id, program=PROGRAM, program_version=version, block_id="B1", rules=[], time_limit_seconds=5
    ).solved(solved.result)
    published = publish_run(
        engine,
        program_key=PROGRAM,
        version=version,
        instance=solved.instance,
        result=replace(solved.result),
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
        reason="generate",
        based_on=None,
        actor="rotaflow generate",
    )
    assert published.block_version == 1
    yield Board(bundle, engine, solved.instance, solved.result.cells)
    engine.dispose()


@pytest.fixture
def board(tiny_dir: Path, settings: Settings, solved: Solved) -> Iterator[Board]:
    """Swaps executed once accepted (approval none)."""
    yield from _board(tiny_dir, settings, solved, "none")


@pytest.fixture
def approved_board(tiny_dir: Path, settings: Settings, solved: Solved) -> Iterator[Board]:
    """Swaps waiting for the coordinator once accepted (program.yaml without swaps: the default)."""
    yield from _board(tiny_dir, settings, solved, None)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["swap", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _candidates(board: Board, capsys: pytest.CaptureFixture[str], cell: Cell) -> dict[str, Any]:
    person, day, shift = cell
    date = board.instance.date(day).isoformat()
    code, printed, err = _run(
        capsys, "candidates", "-p", str(board.bundle), "--person", person, "--date", date, "--shift", shift, "--json"
    )
    assert code == 0, err
    found: dict[str, Any] = json.loads(printed)
    return found


@dataclass(frozen=True)
class Offer:
    """A resident's published shift, who could take it, and who could not (their first rule)."""

    person: str
    date: str
    shift: str
    taker: dict[str, Any] | None
    excluded: dict[str, Any] | None

    def options(self, board: Board) -> list[str]:
        return ["-p", str(board.bundle), "--person", self.person, "--date", self.date, "--shift", self.shift]


_OFFERS: dict[tuple[frozenset[Cell], bool], Offer] = {}
"""The offers found, by schedule: every board of the module publishes the same version 1."""


def _offer(board: Board, capsys: pytest.CaptureFixture[str], *, legal: bool) -> Offer:
    """The first resident shift (by person, day) with a legal taker, or with someone a rule excludes who
    does not work that shift already (a rule, not bad input, stands in their way)."""
    if (board.cells, legal) in _OFFERS:
        return _OFFERS[board.cells, legal]
    for cell in sorted(c for c in board.cells if c[0].startswith("R")):
        found = _candidates(board, capsys, cell)
        person, day, shift = cell
        blocked = [e for e in found["excluded"] if (e["person_id"], day, shift) not in board.cells]
        outright = [t for t in found["takers"] if t["giveaway"]]  # not only in a trade
        if (legal and outright) or (not legal and blocked):
            taker, excluded = (outright[0], None) if legal else (None, blocked[0])
            offer = _OFFERS[board.cells, legal] = Offer(
                person, board.instance.date(day).isoformat(), shift, taker, excluded
            )
            return offer
    raise AssertionError(f"no resident shift of B1 with {'a legal taker' if legal else 'an excluded person'}")


def _request(board: Board, capsys: pytest.CaptureFixture[str], offer: Offer, *more: str) -> dict[str, Any]:
    code, printed, err = _run(capsys, "request", *offer.options(board), *more, "--json")
    assert code == 0, err
    view: dict[str, Any] = json.loads(printed)
    return view


def _listed(capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, Any]]:
    code, printed, err = _run(capsys, "list", *options, "--json")
    assert code == 0, err
    views: list[dict[str, Any]] = json.loads(printed)
    return views


# --------------------------------------------------------------------------- request


def test_request_prints_the_id_of_a_give_away(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    offer = _offer(board, capsys, legal=True)
    assert offer.taker is not None
    taker = offer.taker["person_id"]
    code, printed, err = _run(capsys, "request", *offer.options(board), "--with", taker, "--note", "exam")
    assert code == 0, err
    filed = re.fullmatch(rf"swap (\d+) filed \(giveaway, waiting for {taker}\)\n", printed)
    assert filed is not None, printed
    (view,) = _listed(capsys, "--program", str(board.bundle))
    assert view["id"] == int(filed.group(1)) and view["state"] == "requested" and view["note"] == "exam"
    assert (view["person_id"], view["date"], view["shift_id"]) == (offer.person, offer.date, offer.shift)


def test_request_json_is_the_request_view(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    offer = _offer(board, capsys, legal=True)
    view = _request(board, capsys, offer)
    assert list(view)[: len(VIEW_KEYS)] == VIEW_KEYS
    assert {"block_id", "accepted_by", "note", "undo_version", "out_dir"} <= set(view)
    assert (view["kind"], view["state"], view["with_person_id"], view["block_id"]) == ("offer", "requested", None, "B1")
    assert (view["person_id"], view["date"], view["shift_id"]) == (offer.person, offer.date, offer.shift)
    assert isinstance(view["id"], int) and view["executed_at"] is None and view["version"] is None
    assert dt.datetime.fromisoformat(view["created_at"]).tzinfo is not None


def test_an_illegal_request_exits_3_with_the_rule(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    offer = _offer(board, capsys, legal=False)
    assert offer.excluded is not None
    code, printed, err = _run(capsys, "request", *offer.options(board), "--with", offer.excluded["person_id"])
    assert code == 3 and printed == ""
    assert offer.excluded["rule"] in err and offer.excluded["person_id"] in err
    assert "@" not in err and "Resident" not in err  # person ids only, never names or emails
    refused = re.match(r"error: swap (\d+) refused:\n", err)
    assert refused is not None, err
    (view,) = _listed(capsys, "--status", "refused")
    assert view["id"] == int(refused.group(1)) and view["with_person_id"] == offer.excluded["person_id"]
    assert offer.excluded["rule"] in view["reason"]
    code, printed, err = _run(capsys, "request", *offer.options(board), "--with", offer.excluded["person_id"], "--json")
    assert code == 3 and offer.excluded["rule"] in err
    again = json.loads(printed)  # with --json: the refused request, its reason in words
    assert (again["id"], again["state"], again["reason"]) == (view["id"] + 1, "refused", view["reason"])


SHIFT = ["--date", "2027-07-02", "--shift", "DAY"]


@pytest.mark.parametrize(
    ("options", "option"),
    [
        (["--person", "R1", "--date", "2027-07-32", "--shift", "DAY"], "--date"),
        (["--person", "R9", *SHIFT], "--person"),
        (["--person", "R1", "--date", "2027-07-02", "--shift", "LATE"], "--shift"),
        (["--person", "R1", *SHIFT, "--with", "R9"], "--with"),
        (["--person", "R1", *SHIFT, "--with", "R2", "--take-date", "2027-07-03"], "--take-shift"),
        (["--person", "R1", *SHIFT, "--with", "R2", "--take-date", "x", "--take-shift", "DAY"], "--take-date"),
        (["--person", "R1", *SHIFT, "--take-date", "2027-07-03", "--take-shift", "DAY"], "--with"),
        (["--person", "R1", "--date", "2030-01-01", "--shift", "DAY"], "--date"),  # in no block
    ],
    ids=["date", "person", "shift", "with", "take-shift", "take-date", "take-without-with", "no-block"],
)
def test_bad_input_exits_2_naming_the_option(
    tiny_dir: Path, options: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed, err = _run(capsys, "request", "-p", str(make_solvable(tiny_dir)), *options)
    assert code == 2 and printed == ""
    assert f"command line, column {option}: expected" in err
    assert "@" not in err


# --------------------------------------------------------------------------- candidates


def test_candidates_json_and_table(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    offer = _offer(board, capsys, legal=True)
    day = board.instance.day_index(dt.date.fromisoformat(offer.date))
    found = _candidates(board, capsys, (offer.person, day, offer.shift))
    assert set(found) == {"takers", "excluded"}
    people = {"R1", "R2", "R3", "F1"}
    takers = [t["person_id"] for t in found["takers"]]
    assert [t["rank"] for t in found["takers"]] == list(range(1, len(takers) + 1))
    for taker in found["takers"]:
        assert set(taker) == {"person_id", "rank", "giveaway", "calls", "nights", "weekends", "request", "trade_backs"}
        assert taker["giveaway"] or taker["trade_backs"]  # a taker only in a trade has something to trade
        for back in taker["trade_backs"]:
            assert (taker["person_id"], dt.date.fromisoformat(back["date"]), back["shift_id"]) in board.rows()
    for excluded in found["excluded"]:
        assert set(excluded) == {"person_id", "rule", "message"} and excluded["rule"]
    assert offer.person not in takers and set(takers) | {e["person_id"] for e in found["excluded"]} <= people
    code, printed, _ = _run(capsys, "candidates", *offer.options(board))
    assert code == 0 and "rank" in printed and takers[0] in printed and "trade-backs" in printed
    assert "give-away" in printed


# --------------------------------------------------------------------------- a swap's life


def test_a_trade_request_carries_the_shift_taken_back(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    """Filed or refused (the tiny program leaves little room for trades), the request is recorded as the
    trade it was: the partner and the shift taken back."""
    cells = board.cells
    person, day, shift = min(c for c in cells if c[0] == "R1" and ("R2", c[1], c[2]) not in cells)
    _, back_day, back_shift = min(c for c in cells if c[0] == "R2" and ("R1", c[1], c[2]) not in cells)
    date, back_date = board.instance.date(day).isoformat(), board.instance.date(back_day).isoformat()
    offer = Offer(person, date, shift, None, None)
    trade = ["--with", "R2", "--take-date", back_date, "--take-shift", back_shift, "--json"]
    code, printed, err = _run(capsys, "request", *offer.options(board), *trade)
    view = json.loads(printed)
    assert (view["kind"], view["with_person_id"], view["take_date"], view["take_shift_id"]) == (
        "trade",
        "R2",
        back_date,
        back_shift,
    )
    assert (code, view["state"]) in {(0, "requested"), (3, "refused")}, err


def test_accept_executes_then_undo_restores(board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    offer = _offer(board, capsys, legal=True)
    assert offer.taker is not None
    taker = offer.taker["person_id"]
    swap = _request(board, capsys, offer, "--with", taker)["id"]
    code, printed, err = _run(capsys, "accept", str(swap), "--by", taker)  # the bundle of the last ingest
    assert code == 0, err
    assert f"swap {swap} (giveaway, block B1) executed: published as version 2" in printed
    (view,) = _listed(capsys, "--program", str(board.bundle), "--status", "executed")
    assert (view["id"], view["version"], view["accepted_by"]) == (swap, 2, taker)
    given = (offer.person, dt.date.fromisoformat(offer.date), offer.shift)
    taken = (taker, given[1], given[2])
    assert published_version(board.engine, PROGRAM, "B1").cells == (board.rows() - {given}) | {taken}
    changes = Path(view["out_dir"]) / "changes.csv"
    assert str(changes.parent) in printed.replace("\n", "")
    with changes.open(newline="", encoding="utf-8") as handle:
        rows = {(r["change"], r["person_id"], r["date"], r["shift_id"], r["reason"]) for r in csv.DictReader(handle)}
    assert rows == {
        ("removed", offer.person, offer.date, offer.shift, "swap"),
        ("added", taker, offer.date, offer.shift, "swap"),
    }

    code, printed, err = _run(capsys, "undo", str(swap), "--json")
    assert code == 0, err
    undone = json.loads(printed)
    assert (undone["state"], undone["undo_version"]) == ("undone", 3)
    assert published_version(board.engine, PROGRAM, "B1").cells == board.rows()
    code, _, err = _run(capsys, "undo", str(swap))
    assert code in (2, 3) and f"{swap}" in err  # an undone swap is not undone twice


def test_accept_waits_for_the_coordinator(approved_board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    board = approved_board
    offer = _offer(board, capsys, legal=True)
    assert offer.taker is not None
    taker = offer.taker["person_id"]
    swap = _request(board, capsys, offer)["id"]  # an open offer: anyone the rules allow may accept
    code, printed, err = _run(capsys, "accept", str(swap), "--by", taker, "--program", str(board.bundle))
    assert code == 0, err
    assert f"accepted by {taker}, waiting for the coordinator: rotaflow swap approve {swap}" in printed
    assert published_version(board.engine, PROGRAM, "B1").number == 1
    code, printed, err = _run(capsys, "approve", str(swap), "--json")
    assert code == 0, err
    approved = json.loads(printed)
    assert (approved["state"], approved["version"], approved["accepted_by"]) == ("executed", 2, taker)
    assert published_version(board.engine, PROGRAM, "B1").number == 2


def test_reject_cancel_and_list_by_state(approved_board: Board, capsys: pytest.CaptureFixture[str]) -> None:
    board = approved_board
    offer = _offer(board, capsys, legal=True)
    first, second = _request(board, capsys, offer)["id"], _request(board, capsys, offer)["id"]
    code, printed, err = _run(capsys, "cancel", str(first))
    assert code == 0 and f"swap {first} (offer, block B1) cancelled" in printed, err
    code, printed, err = _run(capsys, "reject", str(second), "--reason", "short-staffed", "--json")
    assert code == 0, err
    assert (json.loads(printed)["state"], json.loads(printed)["reason"]) == ("rejected", "short-staffed")
    assert [v["id"] for v in _listed(capsys, "--status", "cancelled")] == [first]
    assert [v["id"] for v in _listed(capsys)] == [first, second]
    code, printed, _ = _run(capsys, "list")
    assert code == 0 and "rejected" in printed and "short-staffed" in printed
    code, _, err = _run(capsys, "list", "--status", "pending")
    assert code == 2 and "--status" in err
    code, _, err = _run(capsys, "accept", "999", "--by", "R1")
    assert code == 2 and "999" in err


# --------------------------------------------------------------------------- the bundle as ingested


def test_a_bundle_edited_since_its_ingest_is_refused_until_ingested(
    approved_board: Board, capsys: pytest.CaptureFixture[str]
) -> None:
    board = approved_board
    offer = _offer(board, capsys, legal=True)
    assert offer.taker is not None
    taker = offer.taker["person_id"]
    swap = _request(board, capsys, offer, "--with", taker)["id"]  # filed under the ingested bundle
    with (board.bundle / "program.yaml").open("a", encoding="utf-8") as handle:
        handle.write("swaps:\n  approval: none\n")  # the copy now says: no coordinator

    expected = (
        "command line, column --program: expected the bundle as last ingested (version 1), got "
        f"{board.bundle} differs from it: run `rotaflow ingest --program {board.bundle}` first"
    )
    code, printed, err = _run(capsys, "request", *offer.options(board), "--with", taker)
    assert (code, printed) == (2, "") and expected in err.replace("\n", " "), err
    code, printed, err = _run(capsys, "candidates", *offer.options(board))
    assert (code, printed) == (2, "") and expected in err.replace("\n", " "), err
    for args in (["accept", str(swap), "--by", taker], ["approve", str(swap)], ["undo", str(swap)]):
        code, printed, err = _run(capsys, *args)  # the bundle of the last ingest: the copy edited since
        assert (code, printed) == (2, "") and "as last ingested (version 1)" in err, (args, err)
    assert [(v["id"], v["state"]) for v in _listed(capsys)] == [(swap, "requested")]  # nothing else recorded
    assert published_version(board.engine, PROGRAM, "B1").number == 1

    assert main(["ingest", "--program", str(board.bundle), "--no-flow", "--json"]) == 0
    ingested = json.loads(capsys.readouterr().out)
    assert (ingested["version"], ingested["new_version"]) == (2, True)  # the swap policy makes a version

    again = _request(board, capsys, offer, "--with", taker)  # the same copy, now the one ingested
    assert (again["id"], again["state"]) == (swap + 1, "requested")
    code, printed, err = _run(capsys, "accept", str(again["id"]), "--by", taker)
    assert code == 0, err
    assert f"swap {again['id']} (giveaway, block B1) executed: published as version 2" in printed  # approval none
