"""acgme_pgy1_no_moonlighting: a PGY-1 resident is never given a moonlighting shift."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import PersonSpec, ShiftSpec
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, configured, found, instance, solve_with, status

RULE = "acgme_pgy1_no_moonlighting"

MOONLIGHT = ShiftSpec("MOONLIGHT", start=dt.time(18), end=dt.time(23), kind="admin")
EXTRA = ShiftSpec("EXTRA", start=dt.time(18), end=dt.time(23), kind="admin")
"""An admin shift the program names as moonlighting in the rule's parameters."""
MOONLIGHT_CLINIC = ShiftSpec("MOONLIGHT_CLINIC", start=dt.time(18), end=dt.time(23), kind="day")
"""Says moonlight, but is not an admin shift."""
SHIFTS = (DAY, MOONLIGHT, EXTRA, MOONLIGHT_CLINIC)

INTERN = PersonSpec("R1", "resident", pgy=1)
SENIOR = PersonSpec("R2", "resident", pgy=2)


def test_a_pgy1_resident_working_ordinary_shifts_is_admitted() -> None:
    inst = instance(people=(INTERN,), shifts=SHIFTS, days=3)
    cells = {("R1", d, "DAY") for d in range(3)}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_a_pgy1_resident_moonlighting_is_refused() -> None:
    inst = instance(people=(INTERN,), shifts=SHIFTS, days=3)
    cells = {("R1", 0, "DAY"), ("R1", 1, "MOONLIGHT")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 1, 1, 1, 0)]


@pytest.mark.parametrize(
    "person",
    [SENIOR, PersonSpec("R3", "resident", pgy=3), PersonSpec("F1", "faculty")],
    ids=["pgy2", "pgy3", "faculty"],
)
def test_anyone_but_a_pgy1_may_moonlight(person: PersonSpec) -> None:
    inst = instance(people=(INTERN, person), shifts=SHIFTS, days=3)
    cells = {(person.id, d, "MOONLIGHT") for d in range(3)}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("params", "shift", "refused"),
    [
        ({}, "MOONLIGHT", True),  # default: an admin shift whose id says moonlight
        ({}, "EXTRA", False),
        ({}, "MOONLIGHT_CLINIC", False),  # not an admin shift
        ({"shifts": ["EXTRA"]}, "EXTRA", True),  # the program names its moonlighting shifts
        ({"shifts": ["EXTRA"]}, "MOONLIGHT", False),
        ({"shifts": ["EXTRA", "NO_SUCH_SHIFT"]}, "EXTRA", True),  # unknown names are ignored
    ],
    ids=[
        "default-moonlight",
        "default-extra",
        "default-not-admin",
        "named-extra",
        "named-not-moonlight",
        "unknown-name",
    ],
)
def test_which_shifts_are_moonlighting(params: dict, shift: str, refused: bool) -> None:
    inst = instance(people=(INTERN,), shifts=SHIFTS, days=2)
    cells = {("R1", 0, shift)}
    rules = configured(RULE, params=params)
    assert status(inst, rules, cells) == ("infeasible" if refused else "optimal")
    assert found(inst, rules, cells) == ([(RULE, "R1", 0, 0, 1, 0)] if refused else [])


def test_the_solver_gives_the_moonlighting_shift_to_the_senior() -> None:
    inst = instance(people=(INTERN, SENIOR), shifts=(MOONLIGHT,), days=1)
    rules = configured(RULE)
    result = solve_with(inst, rules, pins={("R2", 0, "MOONLIGHT"): True}, time_limit=5)
    assert result.status == "optimal"
    assert ("R1", 0, "MOONLIGHT") not in result.cells
    assert solve_with(inst, rules, pins={("R1", 0, "MOONLIGHT"): True}, time_limit=5).status == "infeasible"


def test_the_rule_cannot_be_made_soft() -> None:
    with pytest.raises(RuleSetError, match="cannot be soft"):
        configured(RULE, kind="soft")


def test_each_moonlighting_shift_is_reported() -> None:
    inst = instance(people=(INTERN, SENIOR), shifts=SHIFTS, days=3)
    cells = {("R1", 0, "MOONLIGHT"), ("R1", 2, "MOONLIGHT"), ("R2", 1, "MOONLIGHT")}
    assert found(inst, configured(RULE), cells) == [(RULE, "R1", 0, 0, 1, 0), (RULE, "R1", 2, 2, 1, 0)]


# ---------------------------------------------------------------------------- selectors


def test_a_selector_that_leaves_the_intern_out_leaves_them_unconstrained() -> None:
    inst = instance(people=(INTERN, SENIOR), shifts=SHIFTS, days=2)
    rules = configured(RULE, applies_to={"person_ids": ["R2"]})
    cells = {("R1", 0, "MOONLIGHT")}
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_the_default_selector_for_residents_still_binds_the_intern() -> None:
    inst = instance(people=(INTERN, PersonSpec("F1", "faculty", pgy=1)), shifts=SHIFTS, days=2)
    rules = configured(RULE, applies_to={"role": "resident"})
    faculty = {("F1", 0, "MOONLIGHT")}  # a faculty record with a stray pgy=1 is not bound
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | {("R1", 0, "MOONLIGHT")}
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", 0, 0, 1, 0)]
