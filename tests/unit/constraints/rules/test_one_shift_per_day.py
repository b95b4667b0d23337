"""one_shift_per_day: at most one shift starts on any day for a person."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import ShiftSpec
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with, violations

EVE = ShiftSpec("EVE", start=dt.time(15), end=dt.time(23))
RULE = "one_shift_per_day"


def test_one_shift_on_each_day_is_allowed() -> None:
    inst = instance(shifts=(DAY, NIGHT, EVE), days=3)
    cells = {("R1", 0, "DAY"), ("R1", 1, "NIGHT"), ("R1", 2, "EVE")}
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("cells", "count"),
    [
        ({("R1", 1, "DAY"), ("R1", 1, "NIGHT")}, 2),  # they do not overlap, but both start on day 1
        ({("R1", 1, "DAY"), ("R1", 1, "EVE"), ("R1", 1, "NIGHT")}, 3),
    ],
    ids=["two", "three"],
)
def test_two_shifts_starting_the_same_day_are_refused(cells: set, count: int) -> None:
    inst = instance(shifts=(DAY, NIGHT, EVE), days=3)
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 1, 1, count, 1)]


def test_as_a_soft_rule_each_extra_shift_costs_its_weight() -> None:
    inst = instance(shifts=(DAY, NIGHT, EVE), days=2)
    rules = configured(RULE, kind="soft", weight=4)
    cells = {("R1", 0, "DAY"), ("R1", 0, "EVE"), ("R1", 0, "NIGHT"), ("R1", 1, "DAY")}
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 4 * 2)
    assert [(v.person, v.value, v.severity) for v in violations(inst, rules, cells)] == [("R1", 3, "warning")]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=1)
    rules = configured(RULE, applies_to={"person_ids": ["R2"]})
    r1_doubles = {("R1", 0, "DAY"), ("R1", 0, "NIGHT")}
    r2_doubles = {("R2", 0, "DAY"), ("R2", 0, "NIGHT")}
    assert solve_with(inst, rules, pins=exactly(inst, r1_doubles)).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, r2_doubles)).status == "infeasible"
    assert found(inst, rules, r1_doubles | r2_doubles) == [(RULE, "R2", 0, 0, 2, 1)]


def test_a_rotation_selector_binds_only_the_days_on_that_rotation() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=2, rotation={("R1", 0): "icu", ("R1", 1): "clinic"})
    rules = configured(RULE, applies_to={"rotation": ["icu"]})
    on_icu = {("R1", 0, "DAY"), ("R1", 0, "NIGHT")}
    on_clinic = {("R1", 1, "DAY"), ("R1", 1, "NIGHT")}
    assert solve_with(inst, rules, pins=exactly(inst, on_icu)).status == "infeasible"
    assert solve_with(inst, rules, pins=exactly(inst, on_clinic)).status == "optimal"
    assert found(inst, rules, on_icu | on_clinic) == [(RULE, "R1", 0, 0, 2, 1)]
