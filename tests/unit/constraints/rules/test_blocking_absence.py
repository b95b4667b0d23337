"""blocking_absence: nobody starts a shift on a day of blocking leave."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Instance
from rotaflow.constraints.model import build_model
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with

RULE = "blocking_absence"


def on_leave(**kwargs: object) -> Instance:
    """R1 is on vacation on days 2 and 3 (and on days outside the block, which are ignored)."""
    return instance(shifts=(DAY, NIGHT), days=5, blocked_days={"R1": frozenset({-1, 2, 3, 9})}, **kwargs)


def test_shifts_around_the_leave_are_allowed() -> None:
    inst = on_leave()
    cells = {("R1", 0, "DAY"), ("R1", 1, "NIGHT"), ("R1", 4, "DAY")}
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize("cell", [("R1", 2, "DAY"), ("R1", 2, "NIGHT"), ("R1", 3, "DAY")])
def test_a_resident_on_leave_is_never_scheduled(cell: tuple[str, int, str]) -> None:
    inst = on_leave()
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, {cell})).status == "infeasible"
    assert found(inst, rules, {cell}) == [(RULE, "R1", cell[1], cell[1], 1, 0)]


def test_a_free_solve_leaves_the_leave_days_empty() -> None:
    inst = on_leave()
    result = solve_with(inst, configured(RULE), pins={("R1", d, "DAY"): True for d in (0, 1, 4)})
    assert result.status == "optimal"
    assert not {c for c in result.cells if c[1] in (2, 3)}


def test_each_run_of_leave_is_one_guard_named_by_its_dates() -> None:
    inst = on_leave()
    inst.blocked_days = {"R1": frozenset({0, 2, 3})}
    built = build_model(inst, configured(RULE), enforce=False)
    assert sorted(built.guards) == [
        "blocking_absence(person=R1, from=2027-07-05, to=2027-07-05)",
        "blocking_absence(person=R1, from=2027-07-07, to=2027-07-08)",
    ]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), days=2, blocked_days={"R1": frozenset({0}), "R2": frozenset({0})})
    rules = configured(RULE, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, {("R1", 0, "DAY")})).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, {("R2", 0, "DAY")})).status == "infeasible"
    assert found(inst, rules, {("R1", 0, "DAY"), ("R2", 0, "DAY")}) == [(RULE, "R2", 0, 0, 1, 0)]


def test_blocking_absence_cannot_be_soft() -> None:
    with pytest.raises(RuleSetError, match="blocking_absence cannot be soft"):
        configured(RULE, kind="soft")
