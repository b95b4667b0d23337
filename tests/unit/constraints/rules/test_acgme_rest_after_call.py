"""acgme_rest_after_call: after a 24-hour in-house call, 14 hours free before the next work."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from tests.unit.constraints.ruletools import (
    CALL24,
    DAY,
    configured,
    exactly,
    found,
    instance,
    solve_with,
    status,
    violations,
)

RULE = "acgme_rest_after_call"


def after_call(rest_hours: float) -> tuple[int, ShiftSpec]:
    """The day and a 6-hour shift starting ``rest_hours`` after a day-0 call ends (07:00 + 4 h hand-off, day 1)."""
    start = dt.datetime(2027, 1, 2, 11) + dt.timedelta(hours=rest_hours)
    return start.day - 1, ShiftSpec("NEXT", start=start.time(), end=(start + dt.timedelta(hours=6)).time())


@pytest.mark.parametrize(
    ("rest_hours", "ok"),
    [(14.0, True), (20.0, True), (13.9, False), (13.5, False), (8.0, False), (0.01, False), (0.0, True)],
    ids=["14.0h", "20h", "13.9h", "13.5h", "8h", "just-after-hand-off", "as-the-hand-off-ends-joins-the-call"],
)
def test_the_next_shift_starts_at_least_14_hours_after_a_24_hour_call(rest_hours: float, ok: bool) -> None:
    """A shift starting as the hand-off ends (gap 0) joins the call's duty period: the continuous-duty rule's."""
    day, nxt = after_call(rest_hours)
    inst = instance(shifts=(CALL24, nxt), days=3)
    cells = {("R1", 0, "CALL24"), ("R1", day, "NEXT")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", day, day, rest_hours, 14.0)])


@pytest.mark.parametrize(
    "call",
    [
        ShiftSpec("CALL", start=dt.time(17), end=dt.time(23), in_house_call=True),  # 6 h in-house call
        ShiftSpec("CALL", start=dt.time(7), end=dt.time(7), transition_minutes=240),  # 24 h, not in-house call
        ShiftSpec("CALL", start=dt.time(7), end=dt.time(7), kind="home_call", home_call_hours=3.0),
    ],
    ids=["short-in-house-call", "24h-not-call", "home-call"],
)
def test_only_a_24_hour_in_house_call_needs_the_14_hours(call: ShiftSpec) -> None:
    day, nxt = after_call(8.0)  # 19:00 on day 1
    inst = instance(shifts=(call, nxt), days=3)
    cells = {("R1", 0, "CALL"), ("R1", day, "NEXT")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_a_program_may_ask_for_more_rest() -> None:
    day, nxt = after_call(14.0)
    inst = instance(shifts=(CALL24, nxt), days=3)
    cells = {("R1", 0, "CALL24"), ("R1", day, "NEXT")}
    rules = configured(RULE, params={"min_rest_hours": 16})
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", day, day, 14.0, 16.0)]


def test_the_solver_keeps_the_day_after_call_free() -> None:
    inst = instance(shifts=(CALL24, DAY), days=3)
    rules = configured(RULE)
    result = solve_with(inst, rules, pins={("R1", 0, "CALL24"): True, ("R1", 2, "DAY"): True}, time_limit=5)
    assert result.status == "optimal"
    assert ("R1", 1, "DAY") not in result.cells  # 07:00 day 1 is inside the hand-off, not this rule's
    assert found(inst, rules, set(result.cells)) == []


# ---------------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("start", "call_hours"),
    [(dt.date(2027, 3, 13), 23), (dt.date(2027, 11, 6), 25)],
    ids=["spring-23h", "autumn-25h"],
)
def test_a_24_hour_call_over_a_clock_change_still_needs_14_hours_rest(start: dt.date, call_hours: int) -> None:
    evening = ShiftSpec("EVENING", start=dt.time(19), end=dt.time(23))
    inst = instance(shifts=(CALL24, evening), days=3, start=start, timezone="America/New_York")
    assert inst.slot(0, "CALL24").scheduled_minutes == call_hours * 60
    cells = {("R1", 0, "CALL24"), ("R1", 1, "EVENING")}  # hand-off ends 11:00, evening shift at 19:00
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 1, 1, 8.0, 14.0)]


# ---------------------------------------------------------------------------- history


def call_before_day_zero(inst: Instance, person: str = "R1", *, in_house: bool = True) -> HistoryShift:
    """A 24-hour call from 07:00 on day -1, hand-off until 11:00 on day 0."""
    start = dt.datetime.combine(inst.date(-1), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
    return HistoryShift(person, start, start + dt.timedelta(hours=28), 28 * 60, in_house, "call", 24 * 60)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ({"person": "R1"}, [(RULE, "R1", 0, 0, 8.0, 14.0)]),
        ({"person": "R2"}, []),
        ({"person": "R1", "in_house": False}, []),
    ],
    ids=["own-call", "someone-elses-call", "not-in-house"],
)
def test_a_call_that_ended_before_the_block_needs_its_rest_on_day_zero(history: dict, expected: list) -> None:
    evening = ShiftSpec("EVENING", start=dt.time(19), end=dt.time(23))
    inst = instance(shifts=(evening,), days=2)
    inst.history = (call_before_day_zero(inst, **history),)
    cells = {("R1", 0, "EVENING")}  # 19:00, 8 h after the hand-off ended
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected
    later = {("R1", 1, "EVENING")}
    assert status(inst, rules, later) == "optimal"
    assert found(inst, rules, later) == []


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    day, nxt = after_call(8.0)
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), shifts=(CALL24, nxt), days=3)
    rules = configured(RULE, applies_to={"role": "resident"})
    faculty = {("F1", 0, "CALL24"), ("F1", day, "NEXT")}
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | {("R1", 0, "CALL24"), ("R1", day, "NEXT")}
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", day, day, 8.0, 14.0)]


# ---------------------------------------------------------------------------- the whole duty period


def after_period(rest_hours: float) -> tuple[int, ShiftSpec]:
    """The day and a 6-hour shift starting ``rest_hours`` after 19:00 on day 1 (the end of call + DAY)."""
    start = dt.datetime(2027, 1, 2, 19) + dt.timedelta(hours=rest_hours)
    return start.day - 1, ShiftSpec("NEXT", start=start.time(), end=(start + dt.timedelta(hours=6)).time())


@pytest.mark.parametrize(
    ("rest_hours", "ok"),
    [(12.0, False), (14.0 - 1 / 60, False), (14.0, True)],
    ids=["12h-the-reported-case", "one-minute-short", "exactly-14h"],
)
def test_rest_after_call_is_owed_from_the_end_of_the_whole_duty_period(rest_hours: float, ok: bool) -> None:
    """Call 07:00-07:00 (hand-off to 11:00), a day shift from 07:00 joining it until 19:00, then the next shift."""
    day, nxt = after_period(rest_hours)
    inst = instance(shifts=(CALL24, DAY, nxt), days=4)
    cells = {("R1", 0, "CALL24"), ("R1", 1, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", day, day, round(rest_hours, 2), 14.0)])


def test_a_shift_chained_on_after_the_day_shift_moves_the_end_again() -> None:
    """Call, DAY until 19:00 and NIGHT from 19:00 (back to back) end at 07:00 on day 2: 14 h later is 21:00."""
    night = ShiftSpec("NIGHT", start=dt.time(19), end=dt.time(7))
    late = ShiftSpec("LATE", start=dt.time(21), end=dt.time(23))
    evening = ShiftSpec("EVE", start=dt.time(20), end=dt.time(23))
    inst = instance(shifts=(CALL24, DAY, night, late, evening), days=4)
    chain = {("R1", 0, "CALL24"), ("R1", 1, "DAY"), ("R1", 1, "NIGHT")}
    rules = configured(RULE)
    assert status(inst, rules, chain | {("R1", 2, "LATE")}) == "optimal"
    assert found(inst, rules, chain | {("R1", 2, "LATE")}) == []
    assert status(inst, rules, chain | {("R1", 2, "EVE")}) == "infeasible"
    assert found(inst, rules, chain | {("R1", 2, "EVE")}) == [(RULE, "R1", 2, 2, 13.0, 14.0)]


def test_a_period_that_began_with_a_call_in_history_owes_rest_from_its_end() -> None:
    """The call of the day before the block, a day shift on day 0 inside its hand-off: rest from 19:00 on day 0."""
    inst = instance(shifts=(DAY,), days=3)
    inst.history = (call_before_day_zero(inst),)
    rules = configured(RULE)
    short = {("R1", 0, "DAY"), ("R1", 1, "DAY")}
    assert status(inst, rules, short) == "infeasible"
    assert found(inst, rules, short) == [(RULE, "R1", 1, 1, 12.0, 14.0)]
    legal = {("R1", 0, "DAY"), ("R1", 2, "DAY")}
    assert status(inst, rules, legal) == "optimal"
    assert found(inst, rules, legal) == []


def test_the_solver_does_not_chain_a_day_shift_onto_a_call_when_the_next_day_is_worked() -> None:
    inst = instance(shifts=(CALL24, DAY), days=3)
    rules = configured(RULE)
    pins = {("R1", 0, "CALL24"): True, ("R1", 1, "CALL24"): False, ("R1", 2, "CALL24"): False}
    pins |= {("R1", 1, "DAY"): True, ("R1", 2, "DAY"): True}
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "infeasible"
    del pins[("R1", 1, "DAY")]
    result = solve_with(inst, rules, pins=pins, time_limit=5)
    assert result.status == "optimal"
    assert found(inst, rules, set(result.cells)) == []


def test_made_soft_the_rest_after_call_costs_once_per_short_start() -> None:
    day, nxt = after_period(12.0)
    inst = instance(shifts=(CALL24, DAY, nxt), days=4)
    cells = {("R1", 0, "CALL24"), ("R1", 1, "DAY"), ("R1", day, "NEXT")}
    rules = configured(RULE, kind="soft", weight=7)
    result = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5)
    assert (result.status, result.objective) == ("optimal", 7)
    (violation,) = violations(inst, rules, cells)
    assert (violation.severity, violation.value) == ("warning", 12.0)


def test_a_call_inside_a_period_that_a_shift_from_history_began_owes_rest_from_its_end() -> None:
    """A 48-hour piece pinned from before day 0 runs until 07:00 on day 1; a short call inside it (a 4-hour call
    counts with ``min_call_hours: 4``) owes its rest from 07:00 on day 1, not from its own end at noon."""
    short_call = ShiftSpec("CALL", start=dt.time(8), end=dt.time(12), in_house_call=True)
    late = ShiftSpec("LATE", start=dt.time(10), end=dt.time(14))
    inst = instance(shifts=(short_call, late), days=3)
    start = dt.datetime.combine(inst.date(-1), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
    inst.history = (HistoryShift("R1", start, start + dt.timedelta(hours=48), 48 * 60, False, "day", 48 * 60),)
    rules = configured(RULE, params={"min_call_hours": 4})
    short = {("R1", 0, "CALL"), ("R1", 1, "LATE")}
    assert status(inst, rules, short) == "infeasible"
    assert found(inst, rules, short) == [(RULE, "R1", 1, 1, 3.0, 14.0)]
    assert status(inst, rules, {("R1", 0, "CALL"), ("R1", 2, "LATE")}) == "optimal"
