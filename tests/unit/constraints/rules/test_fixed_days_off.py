"""fixed_days_off: named people never work on named days."""

from __future__ import annotations

import pytest

from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with

RULE = "fixed_days_off"
PARAMS = {"days": {"R1": [0, 6, 30], "NOBODY": [1]}}
"""R1 is off on Mondays (days 0 and 6 here; day 30 lies outside the block); NOBODY is not in it."""


def test_working_every_other_day_is_allowed() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=7)
    cells = {("R1", d, "DAY") for d in range(1, 6)} | {("R2", d, "DAY") for d in range(7)}
    rules = configured(RULE, params=PARAMS)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize("cell", [("R1", 0, "DAY"), ("R1", 6, "NIGHT")])
def test_a_shift_on_a_fixed_day_off_is_refused(cell: tuple[str, int, str]) -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=7)
    rules = configured(RULE, params=PARAMS)
    assert solve_with(inst, rules, pins=exactly(inst, {cell})).status == "infeasible"
    assert found(inst, rules, {cell}) == [(RULE, "R1", cell[1], cell[1], 1, 0)]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), days=2)
    rules = configured(RULE, params={"days": {"R1": [0], "R2": [0]}}, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, {("R1", 0, "DAY")})).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, {("R2", 0, "DAY")})).status == "infeasible"
    assert found(inst, rules, {("R1", 0, "DAY"), ("R2", 0, "DAY")}) == [(RULE, "R2", 0, 0, 1, 0)]


def test_fixed_days_off_cannot_be_soft() -> None:
    with pytest.raises(RuleSetError, match="fixed_days_off cannot be soft"):
        configured(RULE, kind="soft")
