"""consecutive_working_days: runs of working days between a minimum and a maximum length."""

from __future__ import annotations

import pytest

from tests.unit.constraints.ruletools import (
    DAY,
    NIGHT,
    configured,
    exactly,
    found,
    history,
    instance,
    solve_with,
)

RULE = "consecutive_working_days"


def working(days: str, person: str = "R1") -> set[tuple[str, int, str]]:
    """``"-XX-"``: a day shift on each ``X``."""
    return {(person, d, "DAY") for d, mark in enumerate(days) if mark == "X"}


@pytest.mark.parametrize(
    ("pattern", "breaks"),
    [
        ("XXXXX-----", []),
        ("-XXXXX-XXX", []),
        ("XXXXX-XXXXX", []),
        ("XXXXXX----", [(0, 5, 6)]),
        ("---XXXXXX-", [(3, 8, 6)]),
        ("XXXXXXXXXX", [(0, 9, 10)]),
        ("XXXXXX-XXXXXX", [(0, 5, 6), (7, 12, 6)]),
    ],
)
def test_nobody_works_more_than_five_days_in_a_row(pattern: str, breaks: list[tuple[int, int, int]]) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    rules = configured(RULE, params={"default_max": 5})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("infeasible" if breaks else "optimal")
    assert found(inst, rules, cells) == [(RULE, "R1", a, b, n, 5) for a, b, n in breaks]


def test_a_day_shift_then_a_night_shift_are_two_working_days() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=3)
    rules = configured(RULE, params={"default_max": 1})
    cells = {("R1", 0, "DAY"), ("R1", 1, "NIGHT")}
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 1, 2, 1)]


@pytest.mark.parametrize(
    ("pattern", "exempt", "breaks"),
    [
        ("XX-XX-X", True, []),  # the lone day touches the end of the block
        ("X-XX---", True, []),  # the lone day touches the start
        ("--XX-XX", True, []),
        ("XX-X-XX", True, [(3, 3, 1)]),  # a lone working day in the middle
        ("---X---", True, [(3, 3, 1)]),
        ("-------", True, []),
        ("X-XX---", False, [(0, 0, 1)]),
        ("XX-XX-X", False, [(6, 6, 1)]),
        ("-XX-XX-", False, []),
    ],
)
def test_nobody_works_a_single_day_between_days_off(pattern: str, exempt: bool, breaks: list) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    rules = configured(RULE, params={"default_min": 2, "exempt_runs_at_horizon_ends": exempt})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("infeasible" if breaks else "optimal")
    assert found(inst, rules, cells) == [(RULE, "R1", a, b, n, 2) for a, b, n in breaks]


@pytest.mark.parametrize(("pattern", "ok"), [("-XX----", False), ("-XXX---", True), ("X------", True)])
def test_a_minimum_of_three_refuses_runs_of_two(pattern: str, ok: bool) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    rules = configured(RULE, params={"default_min": 3})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert (found(inst, rules, cells) == []) is ok


def test_when_nothing_is_exempt_a_whole_block_shorter_than_the_minimum_cannot_be_worked() -> None:
    inst = instance(shifts=(DAY,), days=3)
    rules = configured(RULE, params={"default_min": 5, "exempt_runs_at_horizon_ends": False})
    cells = working("XXX")
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 2, 3, 5)]


def test_personal_limits_override_the_defaults() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=7)
    rules = configured(RULE, params={"default_max": 5, "max_days": {"R2": 2}, "min_days": {"R1": 3}})
    cells = working("XXXXX--", "R1") | working("XX-XX-X", "R2")
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, working("-XX----", "R1") | working("XXX----", "R2")) == [
        (RULE, "R1", 1, 2, 2, 3),
        (RULE, "R2", 0, 2, 3, 2),
    ]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=4)
    rules = configured(RULE, params={"default_max": 2}, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, working("XXXX", "R1"))).status == "optimal"
    assert found(inst, rules, working("XXXX", "R1") | working("XXX-", "R2")) == [(RULE, "R2", 0, 2, 3, 2)]


def test_as_a_soft_rule_each_day_over_the_maximum_costs_its_weight() -> None:
    inst = instance(shifts=(DAY,), days=9)
    rules = configured(RULE, kind="soft", weight=3, params={"default_max": 5})
    result = solve_with(inst, rules, pins=exactly(inst, working("XXXXXXX--")))
    assert (result.status, result.objective) == ("optimal", 3 * 2)


@pytest.mark.parametrize(
    ("before", "pattern", "breaks"),
    [
        ((-3, -2, -1), "XX-----", []),  # 3 + 2 = 5 days in a row
        ((-3, -2, -1), "XXX----", [(-3, 2, 6)]),
        ((-4, -3, -2), "XXX----", []),  # a day off just before the block ends the past run
        ((-6, -5, -4, -3, -2, -1), "X------", [(-6, 0, 7)]),  # history alone is at the limit already
        ((-6, -5, -4, -3, -2, -1), "-XXXXX-", []),
    ],
)
def test_a_run_that_began_before_the_block_counts_its_past_days(
    before: tuple[int, ...], pattern: str, breaks: list[tuple[int, int, int]]
) -> None:
    inst = instance(shifts=(DAY,), days=len(pattern))
    inst.history = history(inst, "R1", before, "DAY") + history(inst, "R2", (-1,), "DAY")
    rules = configured(RULE, params={"default_max": 5})
    cells = working(pattern)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("infeasible" if breaks else "optimal")
    assert found(inst, rules, cells) == [(RULE, "R1", a, b, n, 5) for a, b, n in breaks]
