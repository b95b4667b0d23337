"""acgme_rest_between_shifts: 8 hours free between shifts should be kept; each missing hour costs."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, PersonSpec, Schedule, ShiftSpec
from rotaflow.constraints.rules.acgme_rest_between_shifts import Params, penalty
from tests.unit.constraints.ruletools import (
    DAY,
    NIGHT,
    configured,
    exactly,
    found_with_severity,
    instance,
    solve_with,
    violations,
)

RULE = "acgme_rest_between_shifts"
WEIGHT = 20


def after_day_shift(gap_hours: float) -> tuple[int, ShiftSpec]:
    """The day and a 4-hour shift starting ``gap_hours`` after a day-0 DAY shift ends at 19:00."""
    start = dt.datetime(2027, 1, 1, 19) + dt.timedelta(hours=gap_hours)
    return start.day - 1, ShiftSpec("NEXT", start=start.time(), end=(start + dt.timedelta(hours=4)).time())


@pytest.mark.parametrize(
    ("gap_hours", "missing"),
    [
        (6.0, 2),
        (7.5, 1),  # half an hour missing is rounded up to one
        (7.9, 1),
        (1.0, 7),
        (8.0, 0),
        (12.0, 0),
    ],
    ids=["6h", "7.5h", "7.9h", "1h", "8h", "12h"],
)
def test_a_short_rest_costs_the_weight_times_the_missing_hours_rounded_up(gap_hours: float, missing: int) -> None:
    day, nxt = after_day_shift(gap_hours)
    inst = instance(shifts=(DAY, nxt), days=2)
    cells = {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE, weight=WEIGHT)
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert result.status == "optimal"
    assert result.objective == WEIGHT * missing
    assert result.penalties.get(RULE, 0) == WEIGHT * missing
    assert penalty(Schedule.of(inst, cells)) == missing
    expected = [(RULE, "R1", day, day, gap_hours, 8.0, "warning")] if missing else []
    assert found_with_severity(inst, rules, cells) == expected


def test_a_6_hour_gap_is_a_warning_not_a_violation() -> None:
    day, nxt = after_day_shift(6.0)
    inst = instance(shifts=(DAY, nxt), days=2)
    cells = {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    (warning,) = violations(inst, configured(RULE, weight=WEIGHT), cells)
    assert warning.severity == "warning"
    assert warning.unit == "hours"


def test_back_to_back_shifts_are_one_period_and_cost_nothing() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=2)
    cells = {("R1", 0, "DAY"), ("R1", 0, "NIGHT")}  # 19:00 is both the end of one and the start of the next
    rules = configured(RULE, weight=WEIGHT)
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", 0)
    assert found_with_severity(inst, rules, cells) == []


def test_the_solver_avoids_a_short_rest_when_it_can() -> None:
    day, nxt = after_day_shift(6.0)
    inst = instance(shifts=(DAY, nxt), days=2)
    rules = configured(RULE, weight=WEIGHT)
    result = solve_with(inst, rules, pins={("R1", 0, "DAY"): True}, time_limit=5)
    assert (result.status, result.objective) == ("optimal", 0)
    assert ("R1", day, "NEXT") not in result.cells


def test_each_short_rest_is_charged() -> None:
    day, nxt = after_day_shift(6.0)  # 01:00 on day 1
    inst = instance(shifts=(DAY, nxt), days=3)
    cells = {("R1", 0, "DAY"), ("R1", 1, "NEXT"), ("R1", 1, "DAY"), ("R1", 2, "NEXT")}
    # 19:00 -> 01:00 (6 h, 2 missing) twice, and 05:00 -> 07:00 (2 h, 6 missing) once
    rules = configured(RULE, weight=WEIGHT)
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert result.objective == WEIGHT * (2 + 6 + 2)
    assert penalty(Schedule.of(inst, cells)) == 10
    assert sorted(v.value for v in violations(inst, rules, cells)) == [2.0, 6.0, 6.0]


def test_a_program_may_ask_for_ten_hours() -> None:
    day, nxt = after_day_shift(8.0)
    inst = instance(shifts=(DAY, nxt), days=2)
    cells = {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE, weight=WEIGHT, params={"min_rest_hours": 10})
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert result.objective == WEIGHT * 2
    assert penalty(Schedule.of(inst, cells), Params(min_rest_hours=10)) == 2
    assert found_with_severity(inst, rules, cells) == [(RULE, "R1", day, day, 8.0, 10.0, "warning")]


def test_made_hard_a_short_rest_is_refused() -> None:
    day, nxt = after_day_shift(6.0)
    inst = instance(shifts=(DAY, nxt), days=2)
    cells = {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE, kind="hard")
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert [(v.rule, v.person, v.first_day, v.value) for v in violations(inst, rules, cells)] == [
        (RULE, "R1", day, 6.0)
    ]


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_charged_when_the_rule_applies_to_residents() -> None:
    day, nxt = after_day_shift(6.0)
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), shifts=(DAY, nxt), days=2)
    rules = configured(RULE, weight=WEIGHT, applies_to={"role": "resident"})
    faculty = {("F1", 0, "DAY"), ("F1", day, "NEXT")}
    result = solve_with(inst, rules, pins=exactly(inst, faculty), time_limit=5)
    assert (result.status, result.objective) == ("optimal", 0)
    assert found_with_severity(inst, rules, faculty) == []
    both = faculty | {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    result = solve_with(inst, rules, pins=exactly(inst, both), time_limit=5)
    assert (result.status, result.objective) == ("optimal", WEIGHT * 2)
    assert found_with_severity(inst, rules, both) == [(RULE, "R1", day, day, 6.0, 8.0, "warning")]


# ---------------------------------------------------------------------------- periods, not neighbours


def test_rest_counts_from_the_end_of_the_whole_period_not_from_the_shift_that_started_last() -> None:
    """A 24-hour shift (hand-off to 11:00 on day 1) with a short one inside it, then 15:00 on day 1: 4 h free."""
    long = ShiftSpec("LONG", start=dt.time(7), end=dt.time(7), transition_minutes=240)
    inside = ShiftSpec("INSIDE", start=dt.time(9), end=dt.time(11))
    afternoon = ShiftSpec("AFTERNOON", start=dt.time(15), end=dt.time(19))
    inst = instance(shifts=(long, inside, afternoon), days=2)
    cells = {("R1", 0, "LONG"), ("R1", 0, "INSIDE"), ("R1", 1, "AFTERNOON")}
    rules = configured(RULE, weight=WEIGHT)
    assert found_with_severity(inst, rules, cells) == [(RULE, "R1", 1, 1, 4.0, 8.0, "warning")]
    assert penalty(Schedule.of(inst, cells)) == 4
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", WEIGHT * 4)


def test_a_shift_that_joins_the_period_leaves_no_rest_to_charge() -> None:
    """DAY then NIGHT back to back, and a shift at 01:00 inside the night: one period, nothing short."""
    day, nxt = after_day_shift(6.0)
    inst = instance(shifts=(DAY, NIGHT, nxt), days=2)
    cells = {("R1", 0, "DAY"), ("R1", 0, "NIGHT"), ("R1", day, "NEXT")}
    rules = configured(RULE, weight=WEIGHT)
    assert found_with_severity(inst, rules, cells) == []
    assert penalty(Schedule.of(inst, cells)) == 0
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", 0)


@pytest.mark.parametrize(("start", "missing"), [(dt.time(13), 2), (dt.time(15), 0)], ids=["6h", "8h"])
def test_a_night_before_the_block_counts_for_the_rest_on_day_zero(start: dt.time, missing: int) -> None:
    """The night of the day before the block ends at 07:00 on day 0."""
    shift = ShiftSpec("AFTERNOON", start=start, end=dt.time(21))
    inst = instance(shifts=(shift,), days=2)
    begin = dt.datetime.combine(inst.date(-1), dt.time(19), tzinfo=inst.zone).astimezone(dt.UTC)
    inst.history = (HistoryShift("R1", begin, begin + dt.timedelta(hours=12), 12 * 60, False, "night", 12 * 60),)
    cells = {("R1", 0, "AFTERNOON")}
    rules = configured(RULE, weight=WEIGHT)
    gap = 6.0 if missing else 8.0
    assert found_with_severity(inst, rules, cells) == ([(RULE, "R1", 0, 0, gap, 8.0, "warning")] if missing else [])
    assert penalty(Schedule.of(inst, cells)) == missing
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", WEIGHT * missing)
    # someone else's night is not R1's
    inst.history = (HistoryShift("R2", begin, begin + dt.timedelta(hours=12), 12 * 60, False, "night", 12 * 60),)
    assert found_with_severity(inst, rules, cells) == []


def test_a_shift_from_history_running_over_the_gap_closes_it() -> None:
    """A piece pinned from before day 0 runs until 07:00 on day 1: DAY on day 0 and 01:00 on day 1 are one period."""
    day, nxt = after_day_shift(6.0)
    inst = instance(shifts=(DAY, nxt), days=2)
    start = dt.datetime.combine(inst.date(-1), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
    inst.history = (HistoryShift("R1", start, start + dt.timedelta(hours=48), 48 * 60, False, "day", 48 * 60),)
    cells = {("R1", 0, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE, weight=WEIGHT)
    assert found_with_severity(inst, rules, cells) == []
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", 0)
