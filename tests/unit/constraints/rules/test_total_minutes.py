"""total_minutes: each person's worked minutes over the horizon stay within bounds."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import ShiftSpec
from tests.unit.constraints.ruletools import (
    CALL24,
    DAY,
    NIGHT,
    configured,
    exactly,
    found,
    instance,
    solve_with,
    violations,
)

RULE = "total_minutes"
TWELVE_HOURS = 720


def days_worked(count: int, person: str = "R1", shift: str = "DAY") -> set[tuple[str, int, str]]:
    return {(person, d, shift) for d in range(count)}


@pytest.mark.parametrize(
    ("count", "ok"),
    [(0, True), (3, True), (4, False), (7, False)],
)
def test_nobody_works_more_minutes_than_the_maximum(count: int, ok: bool) -> None:
    inst = instance(shifts=(DAY, NIGHT), days=7)
    rules = configured(RULE, params={"default_max": 3 * TWELVE_HOURS})
    cells = days_worked(count)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    expected = [] if ok else [(RULE, "R1", 0, 6, count * TWELVE_HOURS, 3 * TWELVE_HOURS)]
    assert found(inst, rules, cells) == expected


@pytest.mark.parametrize(
    ("count", "ok"),
    [(0, False), (1, False), (2, True), (7, True)],
)
def test_nobody_works_fewer_minutes_than_the_minimum(count: int, ok: bool) -> None:
    inst = instance(shifts=(DAY,), days=7)
    rules = configured(RULE, params={"default_min": 2 * TWELVE_HOURS})
    cells = days_worked(count)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    expected = [] if ok else [(RULE, "R1", 0, 6, count * TWELVE_HOURS, 2 * TWELVE_HOURS)]
    assert found(inst, rules, cells) == expected


def test_call_counts_its_transition_time() -> None:
    """A 24-hour call with 4 hours of transition is 28 hours of work."""
    inst = instance(shifts=(CALL24,), days=3)
    rules = configured(RULE, params={"default_max": 28 * 60})
    assert solve_with(inst, rules, pins=exactly(inst, {("R1", 0, "CALL24")})).status == "optimal"
    two_calls = {("R1", 0, "CALL24"), ("R1", 2, "CALL24")}
    assert found(inst, rules, two_calls) == [(RULE, "R1", 0, 2, 2 * 28 * 60, 28 * 60)]


@pytest.mark.parametrize(
    ("shift", "minutes"),
    [
        (ShiftSpec("HOME", start=dt.time(17), end=dt.time(8), kind="home_call", home_call_hours=3.5), 210),
        (ShiftSpec("HOME0", start=dt.time(17), end=dt.time(8), kind="home_call"), 0),
        (ShiftSpec("TEACH", start=dt.time(8), end=dt.time(12), counts_as_work=False), 0),
        (ShiftSpec("E", minutes=480), 480),  # a benchmark shift: a length without clock times
        (ShiftSpec("LATE", start=dt.time(15), end=dt.time(23), transition_minutes=30), 510),
    ],
    ids=["home-call-hours", "home-call-without-hours", "not-work", "length-only", "with-transition"],
)
def test_each_shift_counts_its_work_minutes(shift: ShiftSpec, minutes: int) -> None:
    """Home call counts the hours actually worked; a shift that is not work counts nothing."""
    inst = instance(shifts=(shift,), days=2)
    cells = {("R1", 0, shift.id), ("R1", 1, shift.id)}
    at_limit = configured(RULE, params={"default_max": 2 * minutes})
    assert solve_with(inst, at_limit, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, at_limit, cells) == []
    if minutes:
        under = configured(RULE, params={"default_max": 2 * minutes - 1})
        assert solve_with(inst, under, pins=exactly(inst, cells)).status == "infeasible"
        assert found(inst, under, cells) == [(RULE, "R1", 0, 1, 2 * minutes, 2 * minutes - 1)]


def test_personal_bounds_override_the_defaults() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=7)
    params = {"default_max": TWELVE_HOURS, "max": {"R1": 4 * TWELVE_HOURS}, "min": {"R2": 1}}
    rules = configured(RULE, params=params)
    cells = days_worked(4, "R1") | days_worked(1, "R2")
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, days_worked(4, "R1")) == [(RULE, "R2", 0, 6, 0, 1)]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY,), days=3)
    rules = configured(RULE, params={"default_max": TWELVE_HOURS}, applies_to={"person_ids": ["R2"]})
    cells = days_worked(3, "R1") | days_worked(2, "R2")
    assert solve_with(inst, rules, pins=exactly(inst, days_worked(3, "R1"))).status == "optimal"
    assert found(inst, rules, cells) == [(RULE, "R2", 0, 2, 2 * TWELVE_HOURS, TWELVE_HOURS)]


def test_as_a_soft_rule_each_minute_over_costs_its_weight() -> None:
    inst = instance(shifts=(DAY,), days=7)
    rules = configured(RULE, kind="soft", weight=2, params={"default_max": 3 * TWELVE_HOURS, "default_min": 0})
    result = solve_with(inst, rules, pins=exactly(inst, days_worked(4)))
    assert (result.status, result.objective) == ("optimal", 2 * TWELVE_HOURS)
    assert [v.severity for v in violations(inst, rules, days_worked(4))] == ["warning"]
