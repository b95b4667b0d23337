"""Why a person has (or does not have) a shift (``rotaflow.services.explain``), on a hand-made schedule of the
tiny bundle's block B1 (``tests.unit.app.explain_schedule``): every fact asserted here is known in advance."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Cell, Schedule
from rotaflow.constraints.model import build_model
from rotaflow.errors import InputError
from rotaflow.services.explain import (
    Alternative,
    Explanation,
    Request,
    cell_explanations,
    explain_cell,
    explain_schedule,
)
from rotaflow.services.swaps import SwapContext, context_from
from rotaflow.services.validate import Validation, validate
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import rules_for
from rotaflow.validations.schedule import load_schedule
from tests.schedules import load
from tests.unit.app.explain_schedule import FIRST, LEAVE, bundle_dir, rows, write_csv

SAT, TUE = LEAVE, dt.date(2027, 7, 6)
"""Saturday 2027-07-03 (R1 works the ward's DAY, R2 is on leave); Tuesday 2027-07-06 (R2 works it, though they
asked for the whole day off: weight 1, times the rule's 5)."""
FRI = dt.date(2027, 7, 2)
"""Friday: R2 works the ward's DAY, R1 is off (they work the days either side)."""

TIGHT_WEEK = "rules:\n  - rule: acgme_weekly_hours\n    params: {limit_hours: 48, window_days: 7}\n"
"""48 hours in every 7-day window: R1 (a 12-hour DAY every other day) is at the limit in the weeks with four."""
SOFT_WEEK = "rules:\n  - rule: acgme_weekly_hours\n    kind: soft\n    params: {limit_hours: 48, window_days: 7}\n"


def _context(folder: Path) -> SwapContext:
    return context_from(load(folder), "B1", 1, rows(), [])


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> SwapContext:
    return _context(bundle_dir(tmp_path_factory.mktemp("explain") / "tiny"))


def _by_taker(found: Explanation) -> dict[str, Alternative]:
    return {a.person_id: a for a in found.alternatives}


def test_a_shift_worked_names_the_coverage_row_it_fills(context: SwapContext) -> None:
    found = explain_cell(context, "R1", SAT)
    assert (found.shift_id, found.works, found.has_shift, found.rotation) == ("DAY", ("DAY",), True, "WARD")
    assert found.may_work == ("DAY", "CALL24", "HOME")
    (row,) = found.coverage  # a Saturday: the faculty's weekday row does not apply
    assert (row.row, row.who, row.minimum, row.maximum, row.target) == (
        "coverage.csv row 1",
        "residents on WARD",
        1,
        2,
        2,
    )
    assert (row.assigned, row.counts_person, row.needed) == (("R1",), True, True)
    assert "without them it is below its minimum" in found.text()


def test_someone_on_leave_is_kept_off_by_the_leave_rule(context: SwapContext) -> None:
    found = explain_cell(context, "R1", SAT, "DAY")
    takers = _by_taker(found)
    assert set(takers) == {"R2", "F1"}  # R3's night-float rotation works no DAY
    assert found.others_ineligible == 1
    assert (takers["R2"].rule, takers["R2"].cost) == ("blocking_absence", None)
    assert takers["R2"].message == f"R2 works DAY on {SAT} while on leave"
    # F1 may work DAY, but is not one of the ward's residents the Saturday row counts: it would go short
    assert takers["F1"].rule == "coverage" and "0 of the 1 people it needs (coverage.csv row 1)" in str(
        takers["F1"].message
    )
    assert "R2 (DAY, in R1's place): kept off by blocking_absence" in found.text()


def test_someone_who_could_take_it_shows_the_cost_of_giving_it_to_them(context: SwapContext) -> None:
    found = explain_cell(context, "R2", TUE, "DAY")
    (r1,) = [a for a in found.alternatives if a.person_id == "R1"]
    # R2's request for the day off would be granted: 5 (the rule's weight) × 1 (the request's) less
    assert (r1.legal, r1.instead_of, r1.cost, r1.costs) == (True, "R2", -5, {"shift_requests": -5})
    assert "R1 (DAY, in R2's place): no hard rule against it; objective -5 (shift_requests -5)" in found.text()


def test_the_persons_requests_that_day_are_told_granted_or_not(context: SwapContext) -> None:
    found = explain_cell(context, "R2", TUE)
    assert found.requests == (Request(None, "off", 1, False),)
    assert "R2's requests that day: to be off the day (weight 1): not granted." in found.text()
    wednesday = explain_cell(context, "R2", dt.date(2027, 7, 7))  # R1's day: R2 asked for the 24-hour call
    assert wednesday.requests == (Request("CALL24", "on", 2, False),)
    assert explain_cell(context, "R1", FRI).requests == ()
    assert explain_cell(context, "R1", dt.date(2027, 7, 5)).as_dict()["requests"] == [
        {"shift_id": "DAY", "kind": "off", "weight": 3, "granted": False}
    ]


def _objective(context: SwapContext, cells: frozenset[Cell]) -> float:
    """The solver's own objective of ``cells`` (the soft rules but continuity, every cell fixed)."""
    inst = copy.copy(context.instance)
    inst.previous = frozenset()
    soft = [r for r in rules_for(context.bundle) if r.kind == "soft" and r.name != "continuity"]
    built = build_model(inst, soft)
    built.model.proto.constraints.add().bool_and.literals.extend(built.x.literals({c: c in cells for c in inst.cells}))
    solver = cp_model.CpSolver()
    assert solver.solve(built.model) == cp_model.OPTIMAL
    return solver.objective_value


def _after(context: SwapContext, found: Explanation, alternative: Alternative) -> frozenset[Cell]:
    day = context.instance.day_index(found.date)
    cells = context._day_cells | {(alternative.person_id, day, alternative.shift_id)}
    if alternative.instead_of is not None:
        cells -= {(alternative.instead_of, day, alternative.shift_id)}
    return cells


@pytest.mark.parametrize(
    ("person", "date", "shift"),
    [("R2", TUE, "DAY"), ("R1", FRI, None), ("R1", FRI, "DAY"), ("F1", SAT, None), ("R3", TUE, None)],
)
def test_each_cost_is_the_change_of_the_solvers_objective(
    context: SwapContext, person: str, date: dt.date, shift: str | None
) -> None:
    found = explain_cell(context, person, date, shift)
    legal = [a for a in found.alternatives if a.legal]
    assert legal
    before = _objective(context, context._day_cells)
    for alternative in legal:
        assert alternative.cost == _objective(context, _after(context, found, alternative)) - before, alternative
        assert alternative.cost == sum(alternative.costs.values())


def test_a_person_at_the_weekly_limit_is_bound_by_the_weekly_hours_rule(tmp_path: Path) -> None:
    tight = _context(bundle_dir(tmp_path / "tight", constraints=TIGHT_WEEK))
    found = explain_cell(tight, "R1", FRI)  # R1 works Jul 1, 3, 5 and 7: 48 h in that week, one more breaks it
    assert (found.works, found.shift_id) == ((), None)
    bound = {b.rule: b for b in found.binding}
    weekly = bound["acgme_weekly_hours"]
    assert weekly.shifts == ("DAY", "CALL24", "HOME")  # even the 2 hours of home call
    assert weekly.finding.limit == 48.0 and weekly.finding.value > 48.0
    assert weekly.finding.window_start <= FRI.isoformat() <= weekly.finding.window_end
    # the DAY the ward could use is kept off by that rule (CALL24 and HOME by rules of their own first)
    options = {a.shift_id: a for a in found.alternatives}
    assert options["DAY"].rule == "acgme_weekly_hours"
    # under the default 80 hours over four weeks, the same day binds no hour limit
    loose = explain_cell(_context(bundle_dir(tmp_path / "loose")), "R1", FRI)
    assert "acgme_weekly_hours" not in {b.rule for b in loose.binding}
    assert {a.shift_id: a.rule for a in loose.alternatives}["DAY"] is None


def test_the_rules_that_only_say_someone_works_that_day_are_left_out(context: SwapContext) -> None:
    found = explain_cell(context, "R1", SAT)  # works DAY: CALL24 or HOME as well would overlap it
    assert not {"one_shift_at_a_time", "one_shift_per_day"} & {b.rule for b in found.binding}
    off = explain_cell(context, "R1", FRI)  # off: a CALL24 would run into Saturday's DAY
    assert "one_shift_at_a_time" in {b.rule for b in off.binding}


def test_a_day_with_no_other_shift_to_try_says_so(context: SwapContext) -> None:
    found = explain_cell(context, "R3", FRI)  # the night float works NIGHT, its rotation's only shift
    assert found.binding == () and found.may_work == ("NIGHT",)
    assert "  none tried: their rotation works no other shift that day" in found.text()
    assert "none tried" not in explain_cell(context, "R1", SAT).text()  # CALL24 and HOME were tried


def test_a_shift_not_worked_tries_the_person_in_each_holders_place_and_as_one_more(context: SwapContext) -> None:
    found = explain_cell(context, "R3", FRI, "DAY")
    assert not found.has_shift and found.works == ("NIGHT",)
    assert [(a.instead_of, a.rule) for a in found.alternatives] == [
        ("F1", "rotation_eligibility"),
        ("R2", "rotation_eligibility"),
        (None, "rotation_eligibility"),
    ]
    assert "R3 does not work DAY that day." in found.text()


def test_a_soft_rule_without_a_penalty_of_its_own_is_costed_by_the_solvers_terms(tmp_path: Path) -> None:
    soft = _context(bundle_dir(tmp_path / "soft", constraints=SOFT_WEEK))
    assert "acgme_weekly_hours" not in {r.name for r in soft.rules}  # soft: it never keeps anyone off
    (r1,) = explain_cell(soft, "R2", TUE, "DAY").alternatives
    # the minutes over 48 h in each 7-day window, after R1 takes Tuesday less before, by the rule's own checker
    rule = next(r for r in rules_for(soft.bundle) if r.name == "acgme_weekly_hours")
    inst = soft.instance
    day = inst.day_index(TUE)

    def over(cells: frozenset[Cell]) -> float:
        found = rule.rule.check(Schedule.of(inst, cells), rule.params, ["R1", "R2"], rule.selector)
        return sum((v.value - v.limit) * 60 for v in found)

    moved = (soft._day_cells - {("R2", day, "DAY")}) | {("R1", day, "DAY")}
    expected = round(over(moved) - over(soft._day_cells))
    assert expected > 0
    assert r1.costs == {"acgme_weekly_hours": expected, "shift_requests": -5}


def test_limit_caps_the_alternatives_tried(context: SwapContext) -> None:
    found = explain_cell(context, "R1", SAT, limit=1)
    assert [a.person_id for a in found.alternatives] == ["R2"] and found.left_out == 1
    assert "(1 more not tried)" in found.text()


@pytest.mark.parametrize(
    ("person", "date", "shift", "option"),
    [
        ("R9", SAT, None, "--person"),
        ("R1", SAT, "LATE", "--shift"),
        ("R1", dt.date(2027, 7, 29), None, "--date"),
    ],
)
def test_bad_input_names_the_option(
    context: SwapContext, person: str, date: dt.date, shift: str | None, option: str
) -> None:
    with pytest.raises(InputError) as refused:
        explain_cell(context, person, date, shift)
    assert [p.column for p in refused.value.problems] == [option]
    with pytest.raises(InputError) as again:
        explain_schedule(context.bundle, "B1", rows(), person, date, shift, source="a.csv")
    assert [p.column for p in again.value.problems] == [option]


def test_an_unknown_block_names_the_block(context: SwapContext) -> None:
    with pytest.raises(InputError) as refused:
        explain_schedule(context.bundle, "B7", rows(), "R1", SAT, source="a.csv")
    assert [p.column for p in refused.value.problems] == ["--block"]


def test_a_schedule_file_is_explained_with_its_earlier_rows_as_history(context: SwapContext) -> None:
    earlier = [("R1", FIRST - dt.timedelta(days=1), "CALL24")]  # ends Thursday 11:00: R1 cannot work Thursday's DAY
    found = explain_schedule(context.bundle, "B1", rows() + earlier, "R1", FIRST, "DAY", source="mine.csv")
    assert (found.version, found.schedule) == (None, "mine.csv")
    assert "schedule mine.csv" in found.text().splitlines()[0]
    again = explain_schedule(context.bundle, "B1", rows() + earlier, "R2", FIRST, "DAY", source="mine.csv")
    assert again.shift_id == "DAY" and not again.has_shift


def test_the_text_and_json_carry_ids_and_never_names(context: SwapContext) -> None:
    people = context.bundle.frames["people"]
    personal = [str(v) for v in list(people["name"]) + list(people["email"]) if isinstance(v, str)]
    for person, date in (("R1", SAT), ("R2", TUE), ("R1", FRI), ("F1", TUE)):
        found = explain_cell(context, person, date)
        text, shown = found.text(), str(found.as_dict())
        assert not [p for p in personal if p in text or p in shown]
    data = explain_cell(context, "R2", TUE).as_dict()
    assert data["has_shift"] is True and data["date"] == TUE.isoformat()
    assert data["alternatives"][0]["legal"] is True and data["coverage"][0]["assigned"] == ["R2"]


# --------------------------------------------------------------------------- the report's cells


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bundle, Validation]:
    """The hand-made schedule validated as ``rotaflow validate`` does."""
    folder = tmp_path_factory.mktemp("validated")
    bundle = load(bundle_dir(folder / "tiny"))
    frame = load_schedule(bundle, write_csv(folder / "assignments.csv", rows()).read_bytes())
    return bundle, validate(bundle, frame, block_id="B1")


@pytest.fixture(scope="module")
def cells(validated: tuple[Bundle, Validation]) -> dict[tuple[str, str, str], str]:
    return cell_explanations(*validated)


def test_every_cell_of_the_grid_has_an_explanation(cells: dict[tuple[str, str, str], str]) -> None:
    worked = {(p, d.isoformat(), s) for p, d, s in rows()}
    days = {(p, d.isoformat()) for p, d, _ in rows()}
    off = {
        (p, (FIRST + dt.timedelta(days=n)).isoformat(), "")
        for p in ("R1", "R2", "R3", "F1")
        for n in range(28)
        if (p, (FIRST + dt.timedelta(days=n)).isoformat()) not in days
    }
    assert set(cells) == worked | off
    assert all(text.strip() for text in cells.values())


def test_a_worked_cell_tells_its_coverage_findings_and_who_else_was_free(
    cells: dict[tuple[str, str, str], str],
) -> None:
    saturday = cells[("R1", SAT.isoformat(), "DAY")]
    assert "Coverage: DAY (coverage.csv row 1, residents on WARD): min 1, max 2, target 2; 1 assigned (R1)" in saturday
    assert "without them it is below its minimum" in saturday
    assert "(rules not checked here): F1." in saturday  # R2 is on leave, R3's rotation works no DAY
    assert f"--block B1 --person R1 --date {SAT} --shift DAY" in saturday
    tuesday = cells[("R2", TUE.isoformat(), "DAY")]
    assert "Finding: shift_requests (warning): R2's request to be off the day on 2027-07-06 was not granted" in tuesday


def test_a_day_off_tells_the_first_rule_against_each_shift(cells: dict[tuple[str, str, str], str]) -> None:
    leave = cells[("R2", SAT.isoformat(), "")]
    assert "On blocking leave that day (blocking_absence)." in leave
    friday = cells[("R1", FRI.isoformat(), "")].splitlines()
    assert friday[0] == f"R1 has no shift on {FRI} (rotation WARD)."
    assert friday[1].startswith("DAY: no hard rule keeps R1 off it; its coverage: 1 assigned (min 1, max 2)")
    assert friday[2].startswith("CALL24: kept off by one_shift_at_a_time: R1 has two shifts overlapping")
    assert friday[3].startswith("HOME: kept off by acgme_max_continuous_duty")
    sunday = cells[("F1", "2027-07-04", "")]
    assert "DAY: no hard rule keeps F1 off it" in sunday


def test_above_the_cap_a_day_off_is_not_checked_and_says_so(validated: tuple[Bundle, Validation]) -> None:
    bundle, validation = validated
    cells = cell_explanations(bundle, validation, max_probes=10)
    friday = cells[("R1", FRI.isoformat(), "")]
    assert "May work DAY, CALL24, HOME; the rules are not checked in this report for a program this large" in friday
    assert "kept off" not in friday
    assert "On blocking leave" in cells[("R2", SAT.isoformat(), "")]  # no rule checker needed for that


def test_a_rotation_without_shifts_explains_every_day_without_checking(tmp_path: Path) -> None:
    folder = bundle_dir(tmp_path / "tiny")
    text = (folder / "rotation_assignments.csv").read_text(encoding="utf-8")
    (folder / "rotation_assignments.csv").write_text(text.replace("R3,B1,NF", "R3,B1,VAC"), encoding="utf-8")
    bundle = load(folder)
    frame = load_schedule(bundle, write_csv(tmp_path / "assignments.csv", rows()).read_bytes())
    cells = cell_explanations(bundle, validate(bundle, frame, block_id="B1"))
    assert "Works no shift that day: rotation VAC (rotation_eligibility)." in cells[("R3", TUE.isoformat(), "")]
    # the nights the schedule still gives R3 fill no row: the night row counts the night float's residents
    night = cells[("R3", FRI.isoformat(), "NIGHT")]
    assert "Coverage: none of the 1 coverage.csv rows of NIGHT that day counts R3." in night
    assert "Nobody else on a rotation that works NIGHT was free that day." in night
