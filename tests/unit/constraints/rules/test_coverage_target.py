"""coverage_target: prefer each shift's ``target`` head-count (soft; under and over weighted)."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Demand, Instance, Schedule
from rotaflow.constraints.rules import coverage_target
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, configured, exactly, instance, solve_with, violations

RULE = "coverage_target"
TEAM = frozenset({"R1", "R2", "R3", "R4"})


def ward(*demands: Demand) -> Instance:
    return instance(people=sorted(TEAM), shifts=(DAY,), days=2, demands=demands)


def working(count: int, day: int = 0) -> set[tuple[str, int, str]]:
    return {(p, day, "DAY") for p in sorted(TEAM)[:count]}


@pytest.mark.parametrize(
    ("count", "shortfall", "excess"),
    [(0, 2, 0), (1, 1, 0), (2, 0, 0), (3, 0, 1), (4, 0, 2)],
)
def test_each_person_under_or_over_target_costs_its_weight(count: int, shortfall: int, excess: int) -> None:
    """Target 2: a missing person costs 10 × 3, an extra one 10 × 1."""
    inst = ward(Demand(0, "DAY", TEAM, target=2, weight_under=3, weight_over=1))
    cells = working(count)
    result = solve_with(inst, configured(RULE, weight=10), pins=exactly(inst, cells))
    assert result.status == "optimal"
    assert result.objective == 10 * (3 * shortfall + 1 * excess)
    assert result.objective == 10 * coverage_target.penalty(Schedule.of(inst, cells))
    assert result.penalties == {RULE: result.objective}


@pytest.mark.parametrize(("count", "warned"), [(1, True), (2, False), (3, True)])
def test_the_checker_warns_of_a_shift_off_target(count: int, warned: bool) -> None:
    inst = ward(Demand(0, "DAY", TEAM, target=2, weight_under=3, weight_over=1))
    expected = [(RULE, None, 0, 0, count, 2, "warning")] if warned else []
    found = [
        (v.rule, v.person, v.first_day, v.last_day, v.value, v.limit, v.severity)
        for v in violations(inst, configured(RULE), working(count))
    ]
    assert found == expected


def test_overstaffing_is_free_when_its_weight_is_zero() -> None:
    inst = ward(Demand(0, "DAY", TEAM, target=1, weight_under=2, weight_over=0))
    cells = working(4)
    result = solve_with(inst, configured(RULE), pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 0)
    assert coverage_target.penalty(Schedule.of(inst, cells)) == 0
    assert violations(inst, configured(RULE), cells) == []


def test_understaffing_is_free_when_its_weight_is_zero() -> None:
    inst = ward(Demand(0, "DAY", TEAM, target=3, weight_under=0, weight_over=2))
    cells = working(1)
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).objective == 0
    assert violations(inst, configured(RULE), cells) == []


def test_a_row_without_a_target_costs_nothing() -> None:
    inst = ward(Demand(0, "DAY", TEAM, min=2))
    cells = working(0)
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).objective == 0
    assert coverage_target.penalty(Schedule.of(inst, cells)) == 0
    assert violations(inst, configured(RULE), cells) == []


def test_a_free_solve_staffs_every_shift_at_its_target() -> None:
    inst = ward(Demand(0, "DAY", TEAM, target=2, weight_over=1), Demand(1, "DAY", TEAM, target=3, weight_over=1))
    result = solve_with(inst, configured(RULE))
    assert (result.status, result.objective) == ("optimal", 0)
    assert sum(1 for c in result.cells if c[1] == 0) == 2
    assert sum(1 for c in result.cells if c[1] == 1) == 3


def test_coverage_target_cannot_be_hard() -> None:
    with pytest.raises(RuleSetError, match="coverage_target cannot be hard"):
        configured(RULE, kind="hard")
