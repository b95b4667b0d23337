"""max_consecutive_nights: a program cap on night shifts in a row (default 6)."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, PersonSpec
from tests.unit.constraints.ruletools import (
    CALL24,
    DAY,
    NIGHT,
    Cells,
    configured,
    found,
    instance,
    solve_with,
    status,
)

RULE = "max_consecutive_nights"


def nights(*days: int, person: str = "R1", shift: str = "NIGHT") -> Cells:
    return {(person, d, shift) for d in days}


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (nights(*range(6)), []),  # 6 in a row: the limit
        (nights(*range(6), *range(7, 13)), []),  # 6, a night off, 6 more
        (nights(*range(7)), [(RULE, "R1", 0, 6, 7, 6)]),  # 7 in a row
        (nights(*range(1, 8)), [(RULE, "R1", 1, 7, 7, 6)]),
        (nights(*range(6, 14)), [(RULE, "R1", 6, 13, 8, 6)]),  # 8, running to the end of the block
        (nights(0, 1, *range(3, 10)), [(RULE, "R1", 3, 9, 7, 6)]),
        (nights(*range(7), *range(8, 15)) - nights(14), [(RULE, "R1", 0, 6, 7, 6)]),
    ],
    ids=["6", "6-off-6", "7", "7-from-day-1", "8-to-the-end", "2-off-7", "7-off-6"],
)
def test_more_than_6_nights_in_a_row_is_refused(cells: Cells, expected: list) -> None:
    inst = instance(shifts=(DAY, NIGHT), days=14)
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_day_shifts_between_nights_break_the_run() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=14)
    cells = nights(*range(3)) | {("R1", 3, "DAY")} | nights(*range(4, 10))
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("max_nights", "run", "ok"),
    [(4, 4, True), (4, 5, False), (1, 1, True), (1, 2, False)],
    ids=["4-of-4", "5-of-4", "1-of-1", "2-of-1"],
)
def test_a_program_sets_its_own_cap(max_nights: int, run: int, ok: bool) -> None:
    inst = instance(shifts=(NIGHT,), days=7)
    cells = nights(*range(run))
    rules = configured(RULE, params={"max_nights": max_nights})
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 0, run - 1, run, max_nights)])


def test_the_kinds_that_count_as_nights_are_configurable() -> None:
    inst = instance(shifts=(NIGHT, CALL24), days=4)
    cells = nights(0, 2, shift="CALL24") | nights(1, 3)  # call, night, call, night
    assert found(inst, configured(RULE, params={"max_nights": 3}), cells) == []
    rules = configured(RULE, params={"max_nights": 3, "kinds": ["night", "call"]})
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 3, 4, 3)]


def test_without_night_shifts_the_rule_adds_nothing() -> None:
    inst = instance(shifts=(DAY,), days=14)
    cells = nights(*range(14), shift="DAY")
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_the_solver_leaves_the_seventh_night_off() -> None:
    inst = instance(shifts=(NIGHT,), days=7)
    rules = configured(RULE)
    pins = {("R1", d, "NIGHT"): True for d in range(6)}
    result = solve_with(inst, rules, pins=pins, time_limit=5)
    assert result.status == "optimal"
    assert ("R1", 6, "NIGHT") not in result.cells


def test_nights_worked_just_before_the_block_count_towards_the_run() -> None:
    inst = instance(shifts=(NIGHT,), days=7)
    past = []
    for day in range(-6, 0):
        start = dt.datetime.combine(inst.date(day), dt.time(19), tzinfo=inst.zone).astimezone(dt.UTC)
        past.append(HistoryShift("R1", start, start + dt.timedelta(hours=12), 720, kind="night", scheduled_minutes=720))
    inst.history = tuple(past)
    cells = nights(0)
    rules = configured(RULE)
    assert found(inst, rules, cells) == [(RULE, "R1", -6, 0, 7, 6)]
    assert status(inst, rules, cells) == "infeasible"


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), shifts=(NIGHT,), days=7)
    rules = configured(RULE, applies_to={"role": "resident"})
    faculty = nights(*range(7), person="F1")
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | nights(*range(7))
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", 0, 6, 7, 6)]
