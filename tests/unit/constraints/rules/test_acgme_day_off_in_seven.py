"""acgme_day_off_in_seven: four free 24-hour periods in every 28 days, or one in every 7 (strict)."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from tests.unit.constraints.ruletools import (
    DAY,
    NIGHT,
    Cells,
    configured,
    found,
    instance,
    status,
)

RULE = "acgme_day_off_in_seven"
STRICT = {"variant": "strict_weekly"}

LATE = ShiftSpec("LATE", start=dt.time(12), end=dt.time(0))
"""12:00 to midnight: the free time after it starts exactly at local midnight."""
EARLY = ShiftSpec("EARLY", start=dt.time(0), end=dt.time(12))


def days_worked(shift: str, days: int, *free: int, person: str = "R1") -> Cells:
    return {(person, d, shift) for d in range(days) if d not in free}


def past_day_shifts(inst: Instance, first: int, last: int, person: str = "R1") -> tuple[HistoryShift, ...]:
    out = []
    for day in range(first, last + 1):
        start = dt.datetime.combine(inst.date(day), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
        out.append(HistoryShift(person, start, start + dt.timedelta(hours=12), 720))
    return tuple(out)


# ---------------------------------------------------------------------------- averaged: 4 in 28 days


def test_four_free_days_in_28_are_admitted() -> None:
    inst = instance(days=28)
    cells = days_worked("DAY", 28, 3, 10, 17, 24)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_three_free_days_in_28_are_refused() -> None:
    inst = instance(days=28)
    cells = days_worked("DAY", 28, 3, 10, 17)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 27, 3, 4)]


@pytest.mark.parametrize(
    ("free", "ok"),
    [
        ((0, 1, 2, 3), True),  # all four together still make four 24-hour periods
        ((5, 6, 12, 13), True),
        ((5, 6, 12), False),
        ((), False),
    ],
    ids=["four-in-a-row", "two-weekends", "three", "none"],
)
def test_free_days_may_fall_anywhere_in_the_four_weeks(free: tuple[int, ...], ok: bool) -> None:
    inst = instance(days=28)
    cells = days_worked("DAY", 28, *free)
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert bool(found(inst, rules, cells)) is not ok


def test_a_program_may_ask_for_more_free_days() -> None:
    inst = instance(days=28)
    cells = days_worked("DAY", 28, 3, 10, 17, 24)
    rules = configured(RULE, params={"min_free_days": 5})
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 27, 4, 5)]


def test_a_free_day_is_a_24_hour_period_not_a_calendar_date() -> None:
    # Nights 19:00-07:00 with one night skipped a week: no calendar date is free of work,
    # but each skip leaves 07:00 to 19:00 the next evening, 36 h: one free period each.
    inst = instance(shifts=(EARLY, NIGHT), days=28)
    cells = days_worked("NIGHT", 28, 5, 12, 19, 26)
    rules = configured(RULE)
    assert found(inst, rules, cells) == []
    # A shift from 00:00 the next day cuts each gap to 17 h: no date has a shift starting on it,
    # yet only the days before the block (free in windows that start before it) count, and the
    # days after it (the last night ends at 07:00 on day 28; windows running on count them free).
    cells |= {("R1", d, "EARLY") for d in (6, 13, 20, 27)}
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", first, first + 27, -first, 4) for first in (-3, -2, -1, 0)] + [
        (RULE, "R1", first, first + 27, first - 1, 4) for first in (1, 2, 3, 4)
    ]


def test_a_block_may_not_leave_a_window_the_next_block_cannot_complete() -> None:
    # Nights to the last day with three skips in days 1-27: the window from day 1 ends on day 28,
    # in the next block, but the last night runs to 07:00 that day and the window ends at midnight,
    # so no next block can give it its fourth free day.
    inst = instance(shifts=(NIGHT,), days=28)
    cells = days_worked("NIGHT", 28, 0, 8, 15, 22)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 1, 28, 3, 4)]
    # a free last night mends it: the windows running on count the days after the block as free
    cells.discard(("R1", 27, "NIGHT"))
    assert found(inst, rules, cells) == []
    assert status(inst, rules, cells) == "optimal"


def test_a_last_shift_with_its_hand_off_may_run_into_the_second_day_after_the_block() -> None:
    # 20:30 to 20:30 with a 4-hour hand-off, worked from day 9 to the last day (13): the last one
    # ends at 00:30 on day 15, so the window from day 9 (to day 15) has 20.5 h free before the
    # first shift and 23.5 h after the last: no free day, though two of its days follow the block.
    long = ShiftSpec("LONG", start=dt.time(20, 30), end=dt.time(20, 30), transition_minutes=240)
    inst = instance(shifts=(long,), days=14)
    cells = {("R1", d, "LONG") for d in range(9, 14)}
    rules = configured(RULE, params={"min_free_days": 1, "window_days": 7})
    assert found(inst, rules, cells) == [(RULE, "R1", 9, 15, 0, 1)]
    assert status(inst, rules, cells) == "infeasible"
    # without the hand-off the last shift ends at 20:30 on day 14: 27.5 h free after it
    short = ShiftSpec("LONG", start=dt.time(20, 30), end=dt.time(20, 30))
    inst = instance(shifts=(short,), days=14)
    assert found(inst, rules, cells) == []
    assert status(inst, rules, cells) == "optimal"


def test_night_float_with_one_skipped_night_a_week_is_admitted() -> None:
    inst = instance(shifts=(NIGHT,), days=28)
    cells = days_worked("NIGHT", 28, 5, 12, 19, 26)
    rules = configured(RULE)
    assert found(inst, rules, cells) == []
    assert status(inst, rules, cells) == "optimal"


# ---------------------------------------------------------------------------- the 24-hour gap, exactly


def next_start(gap_hours: float) -> tuple[int, ShiftSpec]:
    """The day and a 6-hour shift starting ``gap_hours`` after midnight at the end of day 2."""
    start = dt.datetime(2027, 1, 1) + dt.timedelta(hours=gap_hours)
    return 3 + (start.day - 1), ShiftSpec("NEXT", start=start.time(), end=(start + dt.timedelta(hours=6)).time())


@pytest.mark.parametrize(
    ("gap_hours", "ok"),
    [(24.0, True), (23.9, False), (23.0, False), (30.0, True)],
    ids=["24.0h", "23.9h", "23h", "30h"],
)
def test_only_a_full_24_hour_gap_is_a_day_off(gap_hours: float, ok: bool) -> None:
    # Strict weekly: 12:00-24:00 on days 0-2, then free from midnight, then work again until the week ends.
    day, nxt = next_start(gap_hours)
    inst = instance(shifts=(LATE, EARLY, nxt), days=7)
    cells = {("R1", d, "LATE") for d in (0, 1, 2, 4, 5, 6)} | {("R1", day, "NEXT")}
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 0, 6, 0, 1)])


def test_a_24_hour_gap_that_does_not_start_at_midnight_is_a_day_off() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=7)
    # night 19:00 day 2 - 07:00 day 3, free until 07:00 day 4: exactly 24 h
    cells = {("R1", d, "DAY") for d in (0, 1, 4, 5, 6)} | {("R1", 2, "NIGHT")}
    rules = configured(RULE, params=STRICT)
    assert found(inst, rules, cells) == []
    assert status(inst, rules, cells) == "optimal"


# ---------------------------------------------------------------------------- strict weekly variant


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, []),
        (STRICT, [(RULE, "R1", first, first + 6, 0, 1) for first in range(4, 8)]),
    ],
    ids=["averaged", "strict_weekly"],
)
def test_four_days_off_in_a_row_satisfy_the_average_but_not_one_in_every_seven(params: dict, expected: list) -> None:
    inst = instance(days=14)
    cells = days_worked("DAY", 14, 0, 1, 2, 3)
    rules = configured(RULE, params=params)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_strict_weekly_admits_one_free_day_in_every_seven() -> None:
    inst = instance(days=14)
    cells = days_worked("DAY", 14, 6, 13)
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_without_any_free_day_strict_weekly_refuses_the_week() -> None:
    inst = instance(days=7)
    cells = days_worked("DAY", 7)
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 6, 0, 1)]


# ---------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("with_history", "expected"),
    [(False, []), (True, [(RULE, "R1", -6, 0, 0, 1)])],
    ids=["no-history", "six-days-worked-before"],
)
def test_days_worked_before_the_block_count_in_the_first_weeks(with_history: bool, expected: list) -> None:
    inst = instance(days=7)
    if with_history:
        inst.history = past_day_shifts(inst, -6, -1)
    cells = days_worked("DAY", 7, 1)  # day 0 worked, day 1 free
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_other_peoples_history_does_not_count() -> None:
    inst = instance(days=7)
    inst.history = past_day_shifts(inst, -6, -1, person="R2")
    cells = days_worked("DAY", 7, 1)
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


# ---------------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("start", "hours", "ok"),
    [
        (dt.date(2027, 3, 11), 23, False),  # Sun 14 Mar 2027: clocks go forward, the free date is 23 h
        (dt.date(2027, 11, 4), 25, True),  # Sun 7 Nov 2027: clocks go back, the free date is 25 h
    ],
    ids=["spring", "autumn"],
)
def test_a_free_calendar_date_on_a_clock_change_counts_only_if_it_lasts_24_hours(
    start: dt.date, hours: int, ok: bool
) -> None:
    inst = instance(shifts=(LATE, EARLY), days=7, start=start, timezone="America/New_York")
    sunday = 3
    assert inst.midnight(sunday + 1) - inst.midnight(sunday) == dt.timedelta(hours=hours)
    # 12:00-24:00 up to Saturday, free Sunday, back at 00:00 on Monday
    cells = {("R1", d, "LATE") for d in range(7) if d != sunday} | {("R1", sunday + 1, "EARLY")}
    rules = configured(RULE, params=STRICT)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 0, 6, 0, 1)])


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), days=7)
    rules = configured(RULE, params=STRICT, applies_to={"role": "resident"})
    faculty = days_worked("DAY", 7, person="F1")
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | days_worked("DAY", 7)
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", 0, 6, 0, 1)]
