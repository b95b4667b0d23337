"""rotation_eligibility: a resident works only the shifts their rotation allows that day."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Instance, PersonSpec
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with, violations

RULE = "rotation_eligibility"
WARDS_DAYS_ONLY = {("R1", 0): frozenset({"DAY"}), ("R1", 1): frozenset({"DAY", "NIGHT"})}
"""R1 may work days on day 0, days or nights on day 1, and nothing on day 2 (no entry)."""


def wards(**kwargs: object) -> Instance:
    return instance(shifts=(DAY, NIGHT), days=3, allowed=dict(WARDS_DAYS_ONLY), rotation={("R1", 0): "wards"}, **kwargs)


def test_shifts_the_rotation_allows_are_admitted() -> None:
    inst = wards()
    cells = {("R1", 0, "DAY"), ("R1", 1, "NIGHT")}
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    "cell",
    [("R1", 0, "NIGHT"), ("R1", 2, "DAY"), ("R1", 2, "NIGHT")],
    ids=["shift-not-allowed", "day-without-entry", "day-without-entry-night"],
)
def test_a_shift_outside_the_rotation_is_refused(cell: tuple[str, int, str]) -> None:
    inst = wards()
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, {cell})).status == "infeasible"
    assert found(inst, rules, {cell}) == [(RULE, "R1", cell[1], cell[1], 1, 0)]


def test_the_message_names_the_rotation() -> None:
    inst = wards()
    (on_rotation,) = violations(inst, configured(RULE), {("R1", 0, "NIGHT")})
    (no_rotation,) = violations(inst, configured(RULE), {("R1", 2, "DAY")})
    assert on_rotation.message == "R1 works NIGHT on 2027-07-05, which wards does not allow"
    assert no_rotation.message == "R1 works DAY on 2027-07-07, which no rotation does not allow"


def test_without_rotation_limits_anyone_may_work_any_shift() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=2)
    cells = set(inst.cells)
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    faculty = PersonSpec("F1", role="faculty")
    allowed = {("R1", 0): frozenset({"DAY"}), ("F1", 0): frozenset({"DAY"})}
    inst = instance(people=("R1", faculty), shifts=(DAY, NIGHT), days=1, allowed=allowed)
    rules = configured(RULE, applies_to={"role": "resident"})
    assert solve_with(inst, rules, pins=exactly(inst, {("F1", 0, "NIGHT")})).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, {("R1", 0, "NIGHT")})).status == "infeasible"
    assert found(inst, rules, {("F1", 0, "NIGHT"), ("R1", 0, "NIGHT")}) == [(RULE, "R1", 0, 0, 1, 0)]


def test_rotation_eligibility_cannot_be_soft() -> None:
    with pytest.raises(RuleSetError, match="rotation_eligibility cannot be soft"):
        configured(RULE, kind="soft")
