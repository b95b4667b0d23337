"""acgme_max_continuous_duty: a period of duty is at most 24 h scheduled, 28 h with transition."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from tests.unit.constraints.ruletools import (
    CALL24,
    DAY,
    NIGHT,
    Cells,
    configured,
    found,
    instance,
    solve_with,
    status,
    violations,
)

RULE = "acgme_max_continuous_duty"

CALL24_T5 = ShiftSpec("CALL24_T5", start=dt.time(7), end=dt.time(7), transition_minutes=300, in_house_call=True)
"""A 24-hour call with five hours of hand-off: 29 h in all."""
LONG25 = ShiftSpec("LONG25", minutes=25 * 60)
"""From midnight, 25 h scheduled, no transition (clock times cannot say more than 24 h)."""
EVENING = ShiftSpec("EVENING", start=dt.time(9), end=dt.time(13))
"""09:00-13:00: starts inside a 24-hour call's transition (07:00-11:00)."""
SHIFTS = (DAY, NIGHT, CALL24, CALL24_T5, LONG25, EVENING)


@pytest.mark.parametrize(
    "cells",
    [
        {("R1", 0, "CALL24")},  # 24 h + 4 h of transition: exactly the limit
        {("R1", 0, "DAY"), ("R1", 0, "NIGHT")},  # 07:00-19:00 then 19:00-07:00 join into 24 h
        {("R1", 0, "NIGHT"), ("R1", 1, "DAY")},  # 19:00-07:00 then 07:00-19:00: 24 h
        {("R1", 0, "DAY"), ("R1", 1, "DAY"), ("R1", 2, "CALL24")},  # gaps between: separate periods
        {("R1", 0, "CALL24"), ("R1", 1, "NIGHT")},  # the night starts after the hand-off ends
    ],
    ids=["call24+4", "day+night", "night+day", "separate-days", "call-then-night"],
)
def test_up_to_24_hours_scheduled_and_28_with_transition_is_admitted(cells: Cells) -> None:
    inst = instance(shifts=SHIFTS, days=3)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # (last day, value, limit): the scheduled hours against 24 when those break it, else the total against 28
        ({("R1", 0, "CALL24"), ("R1", 1, "DAY")}, (1, 36.0, 24.0)),  # a day shift joined to the call's hand-off
        ({("R1", 0, "CALL24"), ("R1", 1, "EVENING")}, (1, 28.0, 24.0)),  # starts at 09:00, inside the transition
        ({("R1", 0, "DAY"), ("R1", 0, "NIGHT"), ("R1", 1, "DAY")}, (1, 36.0, 24.0)),
        ({("R1", 0, "NIGHT"), ("R1", 1, "CALL24")}, (1, 36.0, 24.0)),  # a night, then straight into call
        ({("R1", 0, "CALL24_T5")}, (0, 29.0, 28.0)),  # 24 h scheduled but 5 h of transition
    ],
    ids=["call+day", "call+evening-in-transition", "day+night+day", "night+call", "call24+5"],
)
def test_a_24_hour_call_joined_to_a_further_shift_is_refused(cells: Cells, expected: tuple) -> None:
    inst = instance(shifts=SHIFTS, days=3)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, *expected)]


def test_more_than_24_hours_scheduled_is_refused_even_without_transition() -> None:
    inst = instance(shifts=SHIFTS, days=2)
    cells = {("R1", 0, "LONG25")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert [(v.rule, v.person, v.first_day) for v in violations(inst, rules, cells)] == [(RULE, "R1", 0)]


def test_a_25_hour_shift_is_reported_against_the_24_hour_scheduled_limit() -> None:
    inst = instance(shifts=SHIFTS, days=2)
    cells = {("R1", 0, "LONG25")}
    assert found(inst, configured(RULE), cells) == [(RULE, "R1", 0, 0, 25.0, 24.0)]


def test_a_period_is_the_whole_chain_but_the_solver_is_free_to_break_it() -> None:
    inst = instance(shifts=SHIFTS, days=2)
    rules = configured(RULE)
    # a day and a night are wanted; the next day shift may not follow them
    pins = {("R1", 0, "DAY"): True, ("R1", 0, "NIGHT"): True}
    result = solve_with(inst, rules, pins=pins, time_limit=5)
    assert result.status == "optimal"
    assert ("R1", 1, "DAY") not in result.cells
    assert found(inst, rules, set(result.cells)) == []


@pytest.mark.parametrize(
    ("params", "cells", "ok"),
    [
        ({"max_scheduled_hours": 16, "max_total_hours": 20}, {("R1", 0, "DAY")}, True),
        ({"max_scheduled_hours": 16, "max_total_hours": 20}, {("R1", 0, "CALL24")}, False),
        ({"max_scheduled_hours": 16, "max_total_hours": 20}, {("R1", 0, "DAY"), ("R1", 0, "NIGHT")}, False),
    ],
    ids=["12h-under-16", "call-over-16", "day+night-over-16"],
)
def test_a_program_may_set_a_stricter_limit(params: dict, cells: Cells, ok: bool) -> None:
    inst = instance(shifts=SHIFTS, days=2)
    rules = configured(RULE, params=params)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert bool(found(inst, rules, cells)) is not ok


THREE_HOURLY = tuple(ShiftSpec(f"S{h:02d}", start=dt.time(h), end=dt.time((h + 3) % 24)) for h in range(0, 24, 3))
"""Eight back-to-back 3-hour shifts fill a day: 00:00-03:00, 03:00-06:00, ..., 21:00-24:00."""


def test_eight_back_to_back_3_hour_shifts_make_24_hours_and_are_admitted() -> None:
    inst = instance(shifts=THREE_HOURLY, days=2)
    cells = {("R1", 0, s.id) for s in THREE_HOURLY}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_nine_back_to_back_3_hour_shifts_make_27_hours_and_are_refused() -> None:
    inst = instance(shifts=THREE_HOURLY, days=2)
    cells = {("R1", 0, s.id) for s in THREE_HOURLY} | {("R1", 1, "S00")}
    rules = configured(RULE)
    assert [(v.rule, v.person, v.first_day) for v in violations(inst, rules, cells)] == [(RULE, "R1", 0)]
    assert status(inst, rules, cells) == "infeasible"


# ---------------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("start", "scheduled_hours", "expected"),
    [
        (dt.date(2027, 11, 6), 25, [(RULE, "R1", 0, 0, 25.0, 24.0)]),  # clocks go back: 07:00-07:00 is 25 h
        (dt.date(2027, 3, 13), 23, []),  # clocks go forward: 23 h
        (dt.date(2027, 7, 10), 24, []),
    ],
    ids=["autumn", "spring", "summer"],
)
def test_a_24_hour_call_over_a_clock_change_lasts_what_the_clocks_say(
    start: dt.date, scheduled_hours: int, expected: list
) -> None:
    inst = instance(shifts=(CALL24,), days=2, start=start, timezone="America/New_York")
    assert inst.slot(0, "CALL24").scheduled_minutes == scheduled_hours * 60
    cells = {("R1", 0, "CALL24")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


# ---------------------------------------------------------------------------- history


def call_before_day_zero(inst: Instance, person: str = "R1", *, ends: int = 7) -> HistoryShift:
    """A 24-hour call that ends (before its 4 h of transition) at ``ends`` o'clock on day 0."""
    end = dt.datetime.combine(inst.date(0), dt.time(ends), tzinfo=inst.zone).astimezone(dt.UTC)
    start = end - dt.timedelta(hours=24)
    return HistoryShift(person, start, end + dt.timedelta(hours=4), 28 * 60, True, "call", 24 * 60)


@pytest.mark.parametrize(
    ("history_person", "ends", "expected"),
    [
        ("R1", 7, [(RULE, "R1", 0, 0, 36.0, 24.0)]),  # the call ends as the day shift starts
        ("R1", 2, []),  # the hand-off ends at 06:00, an hour before the day shift
        ("R2", 7, []),  # someone else's call
    ],
    ids=["joined", "apart", "other-person"],
)
def test_a_call_worked_before_the_block_joins_a_shift_on_day_zero(
    history_person: str, ends: int, expected: list
) -> None:
    inst = instance(shifts=SHIFTS, days=2)
    inst.history = (call_before_day_zero(inst, history_person, ends=ends),)
    cells = {("R1", 0, "DAY")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def long_call_before_day_zero(inst: Instance) -> HistoryShift:
    """A 30-hour call (plus 4 h of transition) that ended at 07:00 on day 0: already too long."""
    end = dt.datetime.combine(inst.date(0), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
    return HistoryShift("R1", end - dt.timedelta(hours=30), end + dt.timedelta(hours=4), 34 * 60, True, "call", 30 * 60)


def test_a_period_entirely_before_the_block_is_not_this_blocks_violation() -> None:
    inst = instance(shifts=SHIFTS, days=2)
    inst.history = (long_call_before_day_zero(inst),)
    cells = {("R1", 1, "DAY")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_a_shift_joined_to_an_already_too_long_past_period_is_refused() -> None:
    inst = instance(shifts=SHIFTS, days=2)
    inst.history = (long_call_before_day_zero(inst),)
    cells = {("R1", 0, "DAY")}
    rules = configured(RULE)
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 0, 42.0, 24.0)]
    assert status(inst, rules, cells) == "infeasible"


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), shifts=SHIFTS, days=2)
    rules = configured(RULE, applies_to={"role": "resident"})
    faculty = {("F1", 0, "CALL24"), ("F1", 1, "DAY")}
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | {("R1", 0, "CALL24"), ("R1", 1, "DAY")}
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", 0, 1, 36.0, 24.0)]
