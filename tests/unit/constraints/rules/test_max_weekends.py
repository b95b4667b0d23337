"""max_weekends: a person works at most so many weekends (Saturday or Sunday worked)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.constraints.ruletools import DAY, configured, exactly, found, instance, solve_with

RULE = "max_weekends"
MONDAY = dt.date(2027, 7, 5)
SUNDAY = dt.date(2027, 7, 4)


def on(*days: int, person: str = "R1") -> set[tuple[str, int, str]]:
    return {(person, d, "DAY") for d in days}


def test_the_block_starts_on_a_monday() -> None:
    assert MONDAY.weekday() == 0 and SUNDAY.weekday() == 6


@pytest.mark.parametrize(
    ("days", "worked", "limit", "weekends"),
    [
        (14, (0, 1, 2, 3, 4, 7, 8), 1, 0),  # weekdays only
        (14, (5, 6), 1, 1),  # Saturday and Sunday are one weekend
        (14, (6, 12), 1, 2),  # a Sunday, then the next Saturday
        (14, (5, 12, 13), 1, 2),
        (14, (5, 13), 2, 2),
        (13, (5, 12), 1, 2),  # the block ends on a Saturday: that lone Saturday is a weekend
        (13, (12,), 0, 1),
        (14, (5,), 0, 1),
    ],
)
def test_nobody_works_more_weekends_than_the_limit(days: int, worked: tuple, limit: int, weekends: int) -> None:
    inst = instance(shifts=(DAY,), days=days, start=MONDAY)
    rules = configured(RULE, params={"default": limit})
    cells = on(*worked)
    ok = weekends <= limit
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 0, days - 1, weekends, limit)])


def test_a_block_starting_on_sunday_counts_that_lone_sunday() -> None:
    inst = instance(shifts=(DAY,), days=8, start=SUNDAY)  # Sunday, Monday … Saturday, Sunday
    rules = configured(RULE, params={"default": 1})
    cells = on(0, 6)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 7, 2, 1)]


def test_a_limit_as_high_as_the_weekends_in_the_block_binds_nothing() -> None:
    inst = instance(shifts=(DAY,), days=14, start=MONDAY)
    rules = configured(RULE, params={"default": 2})
    cells = on(*range(14))
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


def test_a_personal_limit_overrides_the_default() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=14, start=MONDAY)
    rules = configured(RULE, params={"default": 0, "limits": {"R1": 2}})
    assert solve_with(inst, rules, pins=exactly(inst, on(5, 12))).status == "optimal"
    assert found(inst, rules, on(5, 12) | on(6, person="R2")) == [(RULE, "R2", 0, 13, 1, 0)]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=7, start=MONDAY)
    rules = configured(RULE, params={"default": 0}, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, on(5))).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, on(5, person="R2"))).status == "infeasible"


def test_as_a_soft_rule_each_extra_weekend_costs_its_weight() -> None:
    inst = instance(shifts=(DAY,), days=21, start=MONDAY)
    rules = configured(RULE, kind="soft", weight=6, params={"default": 1})
    result = solve_with(inst, rules, pins=exactly(inst, on(5, 13, 19)))
    assert (result.status, result.objective) == ("optimal", 6 * 2)
