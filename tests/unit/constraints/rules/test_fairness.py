"""fairness: calls, weekends and nights shared evenly within each PGY class (soft)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from rotaflow.constraints.instance import Instance, PersonSpec, PriorLoad, Schedule
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
        configured(RULE, params={"tolerance": 0, "categories": ["birthdays"]})


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


# --------------------------------------------------------------------------- the year so far


def year_program(**kwargs: object) -> Instance:
    """PGY-2: R1 has had three calls in the 28 days before the week, R2 none, R3 one at half time."""
    people = (
        PersonSpec("R1", "resident", 2),
        PersonSpec("R2", "resident", 2),
        PersonSpec("R3", "resident", 2, fte=0.5),
    )
    prior = {"R1": PriorLoad(calls=3, available_days=28), "R2": PriorLoad(available_days=28)}
    prior["R3"] = PriorLoad(calls=1, available_days=28)
    return instance(people=people, shifts=(DAY, NIGHT, CALL24), days=7, start=MONDAY, prior=prior, **kwargs)


YEAR = {"scope": "year", "categories": ["calls"], "tolerance": 0}


def _rates(inst: Instance, calls: dict[str, int]) -> list[float]:
    """calls per 28 available days at full time, by hand: (before + now) × 28 / (FTE × (28 + 7))."""
    fte = {p.id: p.fte for p in inst.people}
    return [(inst.prior[p].calls + n) * 28 / (fte[p] * 35) for p, n in calls.items()]


@pytest.mark.parametrize(
    ("cells", "calls"),
    [
        (set(), {"R1": 0, "R2": 0, "R3": 0}),
        (shifts("R2", "CALL24", 0, 2, 4), {"R1": 0, "R2": 3, "R3": 0}),  # R2 catches up with R1
        (shifts("R1", "CALL24", 0, 2), {"R1": 2, "R2": 0, "R3": 0}),  # R1 pulls further ahead
        (shifts("R2", "CALL24", 0) | shifts("R3", "CALL24", 3), {"R1": 0, "R2": 1, "R3": 1}),
    ],
)
def test_year_scope_weighs_the_year_so_far_per_fte_and_day_available(cells: set, calls: dict[str, int]) -> None:
    inst = year_program()
    rates = _rates(inst, calls)
    expected = max(0, math.ceil(round(max(rates) - min(rates), 6) - 1e-9))  # whole shifts per 28 days, rounded up
    rules = configured(RULE, params=YEAR)
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", expected)
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(**YEAR)) == expected


def test_year_scope_gives_the_calls_to_whoever_is_behind() -> None:
    """The week's three calls (Monday, Wednesday, Friday) all to one resident: year scope costs least when they go
    to R2, who has had none; most when they go to R3, whose one call so far at half time already weighs 1.6 per
    28 days (three more: 6.4, against R1's 2.4)."""
    inst = year_program()
    cost = {
        giver: solve_with(
            inst, configured(RULE, params=YEAR), pins=exactly(inst, shifts(giver, "CALL24", 0, 2, 4))
        ).objective
        for giver in ("R1", "R2", "R3")
    }
    assert cost["R2"] < cost["R1"] < cost["R3"]
    block = {"categories": ["calls"], "tolerance": 0}
    same = {
        giver: solve_with(
            inst, configured(RULE, params=block), pins=exactly(inst, shifts(giver, "CALL24", 0, 2, 4))
        ).objective
        for giver in ("R1", "R2", "R3")
    }
    assert len(set(same.values())) == 1  # block scope sees only the week: any of them is the same


def test_year_scope_compares_across_rotations_and_warns_with_rates() -> None:
    inst = year_program()
    inst.rotation = {(p, d): ("ICU" if p == "R1" else "WARD") for p in inst.person_ids for d in range(7)}
    cells = shifts("R1", "CALL24", 0, 2)
    rules = configured(RULE, params={"scope": "year", "categories": ["calls"]})
    (warning,) = violations(inst, rules, cells)
    rates = _rates(inst, {"R1": 2, "R2": 0, "R3": 0})
    assert warning.severity == "warning" and warning.limit == 1
    assert warning.message == (
        f"PGY-2 residents' calls per 28 available days over the year so far range from {min(rates):.2f} to "
        f"{max(rates):.2f}"
    )
    assert warning.value == pytest.approx(max(rates) - min(rates), abs=0.05)
    block = configured(RULE, params={"categories": ["calls"], "tolerance": 0})
    assert solve_with(inst, block, pins=exactly(inst, cells)).objective == 0  # block scope: R1 alone on ICU


def test_leave_shortens_the_days_a_resident_was_available() -> None:
    inst = year_program(blocked_days={"R2": frozenset(range(7))})
    assert fairness.available_days(inst, "R2") == 28 and fairness.available_days(inst, "R1") == 35
    assert fairness.multiplier(inst, "R3") == round(28 * fairness.SCALE / (0.5 * 35))
    # R2 on leave all week cannot work calls: not compared
    cells = shifts("R1", "CALL24", 0)
    rules = configured(RULE, params=YEAR)
    rates = _rates(inst, {"R1": 1, "R3": 0})
    expected = math.ceil(round(max(rates) - min(rates), 6))
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == expected


def test_shifts_on_public_holidays_are_a_category_of_their_own() -> None:
    """Wednesday is a holiday: R1's two shifts on it count, R2's Tuesday does not."""
    inst = program(holidays=frozenset({2}))
    cells = shifts("R1", "DAY", 2) | shifts("R1", "NIGHT", 2) | shifts("R2", "DAY", 1)
    params = {"tolerance": 0, "categories": ["holidays"]}
    assert solve_with(inst, configured(RULE, params=params), pins=exactly(inst, cells)).objective == 2
    assert fairness.penalty(Schedule.of(inst, cells), fairness.Params(tolerance=0, categories=["holidays"])) == 2
    assert [v.message for v in violations(inst, configured(RULE, params=params), cells)] == [
        "PGY-2 residents' holidays range from 0 to 2"
    ]
    assert solve_with(program(), configured(RULE, params=params), pins=exactly(program(), cells)).objective == 0
