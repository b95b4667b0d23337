"""one_shift_at_a_time: nobody works two shifts that overlap in real time, across midnight too."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, ShiftSpec
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

DAY06 = ShiftSpec("DAY06", start=dt.time(6), end=dt.time(18), kind="day")
"""A day shift that starts at 06:00, an hour before a night shift ends."""

RULE = "one_shift_at_a_time"


def night_before_day_zero(inst: Instance, person: str = "R1") -> HistoryShift:
    """A night shift worked on the evening before the block: 19:00 to 07:00 on day 0."""
    start = inst.midnight(0) - dt.timedelta(hours=5)
    return HistoryShift(person, start, start + dt.timedelta(hours=12), 720, kind="night")


def test_a_day_shift_then_the_night_shift_that_starts_as_it_ends_is_allowed() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=3)
    cells = {("R1", 0, "DAY"), ("R1", 0, "NIGHT"), ("R1", 1, "DAY")}
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("cells", "day", "hours"),
    [
        ({("R1", 0, "NIGHT"), ("R1", 1, "DAY06")}, 1, 1.0),  # night 19:00-07:00, then day from 06:00
        ({("R1", 0, "DAY06"), ("R1", 0, "DAY")}, 0, 11.0),  # 06:00-18:00 and 07:00-19:00 the same day
        ({("R1", 0, "CALL24"), ("R1", 1, "DAY")}, 1, 4.0),  # 24 h call with 4 h of transition, then a day
    ],
    ids=["night-then-early-day", "two-day-shifts-same-day", "call-transition-then-day"],
)
def test_shifts_that_overlap_in_real_time_are_refused(cells: set, day: int, hours: float) -> None:
    inst = instance(shifts=(DAY, DAY06, NIGHT, CALL24), days=3)
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", day, day, hours, 0)]


@pytest.mark.parametrize(
    "cells",
    [
        {("R1", 0, "NIGHT"), ("R1", 1, "DAY")},  # the night ends at 07:00 as the day begins
        {("R1", 0, "CALL24"), ("R1", 1, "NIGHT")},  # call and transition end at 11:00, night at 19:00
        {("R1", 0, "DAY06"), ("R1", 1, "DAY06")},
    ],
    ids=["night-then-day", "call-then-night", "two-early-days"],
)
def test_shifts_that_only_touch_are_allowed(cells: set) -> None:
    inst = instance(shifts=(DAY, DAY06, NIGHT, CALL24), days=3)
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


def test_a_night_worked_before_the_block_rules_out_an_early_start_on_day_zero() -> None:
    inst = instance(shifts=(DAY, DAY06), days=2)
    inst.history = (night_before_day_zero(inst),)
    rules = configured(RULE)
    early = {("R1", 0, "DAY06")}
    assert solve_with(inst, rules, pins=exactly(inst, early)).status == "infeasible"
    assert found(inst, rules, early) == [(RULE, "R1", 0, 0, 1.0, 0)]


def test_a_night_worked_before_the_block_leaves_a_seven_oclock_start_free() -> None:
    inst = instance(shifts=(DAY, DAY06), days=2)
    inst.history = (night_before_day_zero(inst),)
    rules = configured(RULE)
    day = {("R1", 0, "DAY")}
    assert solve_with(inst, rules, pins=exactly(inst, day)).status == "optimal"
    assert found(inst, rules, day) == []


def test_someone_elses_history_does_not_bind() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY06,), days=2)
    inst.history = (night_before_day_zero(inst, "R2"),)
    rules = configured(RULE)
    early = {("R1", 0, "DAY06")}
    assert solve_with(inst, rules, pins=exactly(inst, early)).status == "optimal"
    assert found(inst, rules, early) == []


def test_the_checker_reports_a_shift_overlapped_by_a_later_starting_history_shift() -> None:
    inst = instance(shifts=(DAY,), days=2)
    start = inst.slot(0, "DAY").start + dt.timedelta(hours=1)  # pinned earlier: 08:00-20:00 on day 0
    inst.history = (HistoryShift("R1", start, start + dt.timedelta(hours=12), 720),)
    rules = configured(RULE)
    day = {("R1", 0, "DAY")}
    assert solve_with(inst, rules, pins=exactly(inst, day)).status == "infeasible"
    assert [v.person for v in violations(inst, rules, day)] == ["R1"]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, DAY06), days=1)
    rules = configured(RULE, applies_to={"person_ids": ["R2"]})
    r1_doubles = {("R1", 0, "DAY"), ("R1", 0, "DAY06")}
    r2_doubles = {("R2", 0, "DAY"), ("R2", 0, "DAY06")}
    assert solve_with(inst, rules, pins=exactly(inst, r1_doubles)).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, r2_doubles)).status == "infeasible"
    assert found(inst, rules, r1_doubles | r2_doubles) == [(RULE, "R2", 0, 0, 11.0, 0)]


def test_as_a_soft_rule_each_overlapping_pair_costs_its_weight() -> None:
    inst = instance(shifts=(DAY, DAY06, NIGHT), days=2)
    rules = configured(RULE, kind="soft", weight=3)
    cells = {("R1", 0, "DAY06"), ("R1", 0, "DAY"), ("R1", 0, "NIGHT"), ("R1", 1, "DAY06")}
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 3 * 2)
    assert {v.severity for v in violations(inst, rules, cells)} == {"warning"}


def test_a_finding_names_the_later_starting_shift_and_its_date() -> None:
    inst = instance(shifts=(DAY, DAY06, NIGHT), days=3)
    rules = configured(RULE)
    cells = {("R1", 0, "NIGHT"), ("R1", 1, "DAY06"), ("R1", 2, "DAY06"), ("R1", 2, "DAY")}
    found_shifts = [(v.first_day, v.shift) for v in violations(inst, rules, cells)]
    # the night from 19:00 is overlapped by the next day's 06:00 start; 06:00 and 07:00 the same day
    assert found_shifts == [(1, "DAY06"), (2, "DAY")]


def test_a_shift_overlapped_by_one_worked_before_the_block_is_named() -> None:
    inst = instance(shifts=(DAY, DAY06), days=2)
    inst.history = (night_before_day_zero(inst),)
    (finding,) = violations(inst, configured(RULE), {("R1", 0, "DAY06")})
    assert (finding.first_day, finding.shift) == (0, "DAY06")


def test_a_long_shift_overlapping_two_later_shifts_is_found_past_the_shift_between_them() -> None:
    # call 07:00 on day 0 to 11:00 on day 1 (with its hand-off); the day shift and the early day shift of
    # day 1 both start inside it, and the checker, which looks back only as far as the longest shift, still
    # pairs the call with the second of them past the first
    inst = instance(shifts=(DAY, DAY06, CALL24), days=3)
    rules = configured(RULE)
    cells = {("R1", 0, "CALL24"), ("R1", 1, "DAY06"), ("R1", 1, "DAY")}
    assert sorted(found(inst, rules, cells)) == [
        (RULE, "R1", 1, 1, 4.0, 0),  # DAY 07:00-19:00 inside the call until 11:00
        (RULE, "R1", 1, 1, 5.0, 0),  # DAY06 06:00-18:00 inside the call until 11:00
        (RULE, "R1", 1, 1, 11.0, 0),  # DAY inside DAY06 from 07:00 to 18:00
    ]
