"""consecutive_days_off: runs of days off last at least a minimum."""

from __future__ import annotations

import pytest

from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with

RULE = "consecutive_days_off"


def working(days: str, person: str = "R1", shift: str = "DAY") -> set[tuple[str, int, str]]:
    """``"XX-XX"``: a shift on each ``X``, a day off on each ``-``."""
    return {(person, d, shift) for d, mark in enumerate(days) if mark == "X"}


@pytest.mark.parametrize(
    ("pattern", "exempt", "breaks"),
    [
        ("XXX--XX", True, []),
        ("XXXXXXX", True, []),
        ("-XXXXX-", True, []),  # lone days off at both ends of the block
        ("XXX-XXX", True, [(3, 3, 1)]),  # a lone day off in the middle
        ("X-X--X-", True, [(1, 1, 1)]),
        ("-XXXXX-", False, [(0, 0, 1), (6, 6, 1)]),
        ("--XXX--", False, []),
    ],
)
def test_days_off_come_at_least_two_in_a_row(pattern: str, exempt: bool, breaks: list) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    rules = configured(RULE, params={"default_min": 2, "exempt_runs_at_horizon_ends": exempt})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("infeasible" if breaks else "optimal")
    assert found(inst, rules, cells) == [(RULE, "R1", a, b, n, 2) for a, b, n in breaks]


@pytest.mark.parametrize(("pattern", "ok"), [("X--XXXX", False), ("X---XXX", True)])
def test_a_minimum_of_three_refuses_two_days_off(pattern: str, ok: bool) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    rules = configured(RULE, params={"min_days": {"R1": 3}})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 1, 2, 2, 3)])


def test_a_night_shift_makes_its_day_a_working_day() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=3)
    rules = configured(RULE, params={"default_min": 2})
    cells = working("X-", shift="DAY") | {("R1", 2, "NIGHT")}
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 1, 1, 1, 2)]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=3)
    rules = configured(RULE, params={"default_min": 2}, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, working("X-X", "R1"))).status == "optimal"
    assert found(inst, rules, working("X-X", "R1") | working("X-X", "R2")) == [(RULE, "R2", 1, 1, 1, 2)]


def test_as_a_soft_rule_each_short_break_costs_its_weight() -> None:
    inst = instance(shifts=(DAY,), days=7)
    rules = configured(RULE, kind="soft", weight=4, params={"default_min": 2})
    result = solve_with(inst, rules, pins=exactly(inst, working("X-X-X-X")))
    assert (result.status, result.objective) == ("optimal", 4 * 3)
