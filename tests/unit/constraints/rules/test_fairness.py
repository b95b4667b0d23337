"""fairness: calls, weekends and nights shared evenly within each PGY class (soft)."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import Instance, PersonSpec, Schedule
from rotaflow.constraints.rules import fairness
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import CALL24, DAY, NIGHT, configured, exactly, instance, solve_with, violations

RULE = "fairness"
MONDAY = dt.date(2027, 7, 5)
CLASS_OF_PGY2 = ("R1", "R2", "R3")
CLASS_OF_PGY1 = ("I1", "I2")
PEOPLE = (
    *(PersonSpec(p, "resident", 2) for p in CLASS_OF_PGY2),
    *(PersonSpec(p, "resident", 1) for p in CLASS_OF_PGY1),
    PersonSpec("F1", role="faculty"),
    PersonSpec("S1", "resident", 3),  # alone in the PGY-3 class
)


def program(**kwargs: object) -> Instance:
    return instance(people=PEOPLE, shifts=(DAY, NIGHT, CALL24), days=7, start=MONDAY, **kwargs)


def shifts(person: str, shift: str, *days: int) -> set[tuple[str, int, str]]:
    return {(person, d, shift) for d in days}


@pytest.mark.parametrize(
    ("nights", "spread"),
    [
        ({"R1": (), "R2": (), "R3": ()}, 0),
        ({"R1": (0,), "R2": (1,), "R3": (2,)}, 0),
        ({"R1": (0,), "R2": (), "R3": (2,)}, 1),
        ({"R1": (0, 2), "R2": (), "R3": (4,)}, 2),
        ({"R1": (0, 2, 4, 6), "R2": (1,), "R3": (3, 5)}, 3),
    ],
)
def test_the_spread_of_nights_within_a_class_costs_its_weight(nights: dict[str, tuple[int, ...]], spread: int) -> None:
    inst = program()
    cells = {c for person, days in nights.items() for c in shifts(person, "NIGHT", *days)}
    rules = configured(RULE, weight=2, params={"tolerance": 0, "categories": ["nights"]})
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 2 * spread)
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=["nights"])) == spread


def test_the_checker_warns_only_when_the_spread_is_more_than_one() -> None:
    inst = program()
    rules = configured(RULE, params={"categories": ["nights"]})
    assert violations(inst, rules, shifts("R1", "NIGHT", 0)) == []
    (warning,) = violations(inst, rules, shifts("R1", "NIGHT", 0, 2))
    summary = (warning.rule, warning.person, warning.value, warning.limit, warning.severity)
    assert summary == (RULE, None, 2, 1, "warning")
    assert warning.message == "PGY-2 residents' nights range from 0 to 2"


def test_each_pgy_class_is_compared_within_itself() -> None:
    """Interns and seniors each have their own spread; faculty and a class of one are left out."""
    inst = program()
    cells = (
        shifts("R1", "NIGHT", 0)
        | shifts("I1", "NIGHT", 1, 3)
        | shifts("F1", "NIGHT", 0, 1, 2, 3)
        | shifts("S1", "NIGHT", 0, 2, 4, 6)
    )
    rules = configured(RULE, params={"tolerance": 0, "categories": ["nights"]})
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert result.objective == 1 + 2
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=["nights"])) == 3
    assert [w.message for w in violations(inst, rules, cells)] == [
        "PGY-1 residents' nights range from 0 to 2",
        "PGY-2 residents' nights range from 0 to 1",
    ]


@pytest.mark.parametrize(
    ("category", "cells", "spread"),
    [
        ("calls", shifts("R1", "CALL24", 0, 2), 2),
        ("calls", shifts("R1", "NIGHT", 0, 2), 0),  # nights are not calls
        ("weekends", shifts("R1", "DAY", 5, 6), 2),  # Saturday and Sunday shifts
        ("weekends", shifts("R1", "DAY", 0, 1, 2), 0),
        ("nights", shifts("R1", "CALL24", 0, 2), 0),
    ],
)
def test_each_category_counts_its_own_shifts(category: str, cells: set, spread: int) -> None:
    inst = program()
    rules = configured(RULE, params={"tolerance": 0, "categories": [category]})
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == spread
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=[category])) == spread


def test_by_default_calls_weekends_and_nights_all_count() -> None:
    inst = program()
    cells = shifts("R1", "CALL24", 5) | shifts("R2", "NIGHT", 1)
    # calls: R1 1 vs 0 → 1; weekends: R1 1 vs 0 → 1; nights: R2 1 vs 0 → 1
    assert solve_with(inst, configured(RULE, params={"tolerance": 0}), pins=exactly(inst, cells)).objective == 3
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0)) == 3


def test_residents_whose_rotation_rules_out_nights_are_not_compared() -> None:
    allowed = {(p.id, d): frozenset({"DAY", "NIGHT", "CALL24"}) for p in PEOPLE for d in range(7)}
    allowed.update({("R3", d): frozenset({"DAY"}) for d in range(7)})
    inst = program(allowed=allowed, blocked_days={"R2": frozenset(range(7))})
    cells = shifts("R1", "NIGHT", 0, 2)
    rules = configured(RULE, params={"tolerance": 0, "categories": ["nights"]})
    # R2 is on leave all block and R3's rotation has no nights: R1 is alone in the class
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == 0
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=["nights"])) == 0
    assert violations(inst, rules, cells) == []


def test_an_instance_without_that_kind_of_shift_costs_nothing() -> None:
    inst = instance(people=CLASS_OF_PGY2, shifts=(DAY,), days=3)
    cells = shifts("R1", "DAY", 0, 1, 2)
    result = solve_with(
        inst, configured(RULE, params={"tolerance": 0, "categories": ["nights", "calls"]}), pins=exactly(inst, cells)
    )
    assert (result.status, result.objective) == ("optimal", 0)
    assert fairness.penalty(Schedule.of(inst, cells)) == 0


def test_only_people_the_rule_applies_to_are_compared() -> None:
    inst = program()
    cells = shifts("R1", "NIGHT", 0, 2)
    rules = configured(RULE, params={"tolerance": 0, "categories": ["nights"]}, applies_to={"person_ids": ["R2", "R3"]})
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == 0
    assert (
        fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=["nights"]), ["R2", "R3"])
        == 0
    )
    assert violations(inst, rules, cells) == []


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(RuleSetError, match="params.categories.0"):
        configured(RULE, params={"tolerance": 0, "categories": ["holidays"]})


def test_a_spread_within_the_tolerance_is_fair_and_costs_nothing() -> None:
    inst = program()
    cells = shifts("R1", "NIGHT", 0, 2) | shifts("R2", "NIGHT", 1)  # spread 2 among R1..R3
    rules = configured(RULE, params={"categories": ["nights"], "tolerance": 1})
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == 1
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(categories=["nights"])) == 1
    assert [v.value for v in violations(inst, rules, cells)] == [2]
    small = shifts("R1", "NIGHT", 0)  # spread 1: fair by default
    assert solve_with(inst, rules, pins=exactly(inst, small)).objective == 0
    assert violations(inst, rules, small) == []


def test_residents_on_different_rotations_are_not_compared() -> None:
    inst = program()
    inst.rotation = {(p, d): ("NF" if p == "R1" else "WARD") for p in inst.person_ids for d in range(7)}
    cells = shifts("R1", "NIGHT", 0, 1, 2, 3)  # R1 on night float works nights, R2 and R3 on the ward none
    rules = configured(RULE, params={"categories": ["nights"], "tolerance": 0})
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == 0
    together = configured(RULE, params={"categories": ["nights"], "tolerance": 0, "by_rotation": False})
    assert solve_with(inst, together, pins=exactly(inst, cells)).objective == 4
