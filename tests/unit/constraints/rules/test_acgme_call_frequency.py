"""acgme_call_frequency: in-house call no more than every third night, at most 9 calls in any 28 days."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from tests.unit.constraints.ruletools import Cells, configured, found, instance, solve_with, status

RULE = "acgme_call_frequency"

CALL = ShiftSpec("CALL", start=dt.time(17), end=dt.time(23), kind="call", in_house_call=True)
"""A short in-house call, so no rest or duty-length rule could matter."""
HOME = ShiftSpec("HOME", start=dt.time(17), end=dt.time(23), kind="home_call", home_call_hours=2.0)
DAY = ShiftSpec("DAY", start=dt.time(7), end=dt.time(15))


def every_third(shift: str, first: int, last: int, person: str = "R1") -> Cells:
    return {(person, d, shift) for d in range(first, last + 1, 3)}


def past_calls(inst: Instance, days: range, person: str = "R1", *, in_house: bool = True) -> tuple[HistoryShift, ...]:
    out = []
    for day in days:
        start = dt.datetime.combine(inst.date(day), dt.time(17), tzinfo=inst.zone).astimezone(dt.UTC)
        out.append(HistoryShift(person, start, start + dt.timedelta(hours=6), 360, in_house, "call", 360))
    return tuple(out)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (every_third("CALL", 0, 24), []),  # 9 calls: every third night
        (every_third("CALL", 1, 25), []),
        (every_third("CALL", 0, 27), [(RULE, "R1", 0, 27, 10, 9)]),  # 10 calls over days 0..27
    ],
    ids=["9-calls", "9-calls-shifted", "10-calls"],
)
def test_at_most_9_in_house_calls_in_28_days(cells: Cells, expected: list) -> None:
    inst = instance(shifts=(CALL, DAY), days=28)
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_call_every_other_night_is_refused_in_every_window_it_overfills() -> None:
    inst = instance(shifts=(CALL,), days=28)
    cells = {("R1", d, "CALL") for d in range(0, 28, 2)}  # 14 calls
    rules = configured(RULE)
    assert status(inst, rules, cells) == "infeasible"
    reported = found(inst, rules, cells)
    assert (RULE, "R1", 0, 27, 14, 9) in reported
    assert all(value > 9 for *_, value, _ in reported)
    assert {first for _, _, first, *_ in reported} == set(range(-9, 9))


def test_the_tenth_call_is_left_out_by_the_solver() -> None:
    inst = instance(shifts=(CALL,), days=28)
    rules = configured(RULE)
    pins = {("R1", d, "CALL"): True for d in range(0, 27, 3)}  # 9 calls
    result = solve_with(inst, rules, pins=pins, time_limit=5)
    assert result.status == "optimal"
    assert len(result.cells) == 9
    pins[("R1", 27, "CALL")] = True
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "infeasible"


def test_home_call_and_other_work_are_exempt() -> None:
    inst = instance(shifts=(CALL, HOME, DAY), days=28)
    cells = (
        every_third("CALL", 0, 24)
        | {("R1", d, "HOME") for d in range(28) if d % 3}
        | {("R1", d, "DAY") for d in range(28)}
    )
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_without_any_in_house_call_shift_the_rule_adds_nothing() -> None:
    inst = instance(shifts=(HOME,), days=28)
    cells = {("R1", d, "HOME") for d in range(28)}
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_a_program_may_allow_fewer_calls() -> None:
    inst = instance(shifts=(CALL,), days=28)
    cells = {("R1", d, "CALL") for d in (0, 5, 9, 14, 18, 23, 27)}  # 7 calls, first and last 27 days apart
    rules = configured(RULE, params={"max_calls": 6})
    assert status(inst, rules, cells) == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 27, 7, 6)]


# ---------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({("R1", 0, "CALL"), ("R1", 3, "CALL")}, []),  # 7 + 2 = 9
        ({("R1", 0, "CALL"), ("R1", 3, "CALL"), ("R1", 6, "CALL")}, [(RULE, "R1", -21, 6, 10, 9)]),  # 7 + 3 = 10
    ],
    ids=["9-with-history", "10-with-history"],
)
def test_calls_before_the_block_count_in_windows_that_cross_its_start(cells: Cells, expected: list) -> None:
    inst = instance(shifts=(CALL,), days=7)
    inst.history = past_calls(inst, range(-21, 0, 3))  # 7 calls on days -21, -18, ..., -3
    rules = configured(RULE)
    assert status(inst, rules, cells) == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_past_home_calls_and_other_peoples_calls_do_not_count() -> None:
    inst = instance(shifts=(CALL,), days=7)
    inst.history = past_calls(inst, range(-21, 0, 3), in_house=False) + past_calls(inst, range(-21, 0, 3), "R2")
    cells = every_third("CALL", 0, 6)
    rules = configured(RULE)
    assert status(inst, rules, cells) == "optimal"
    assert found(inst, rules, cells) == []


def test_an_empty_block_is_admitted_even_when_the_previous_block_had_too_many_calls() -> None:
    inst = instance(shifts=(CALL,), days=1)
    inst.history = past_calls(inst, range(-20, 0, 2))  # 10 calls in the 20 days before the block
    rules = configured(RULE)
    assert found(inst, rules, set()) == []
    assert status(inst, rules, set()) == "optimal"


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    inst = instance(people=("R1", PersonSpec("F1", "faculty")), shifts=(CALL,), days=28)
    rules = configured(RULE, applies_to={"role": "resident"})
    faculty = {("F1", d, "CALL") for d in range(28)}
    assert status(inst, rules, faculty) == "optimal"
    assert found(inst, rules, faculty) == []
    both = faculty | every_third("CALL", 0, 27)
    assert status(inst, rules, both) == "infeasible"
    assert found(inst, rules, both) == [(RULE, "R1", 0, 27, 10, 9)]


def test_a_rotation_selector_binds_the_windows_that_touch_that_rotation() -> None:
    rules = configured(RULE, applies_to={"rotation": ["ICU"]})
    pins = {("R1", d, "CALL"): True for d in range(14, 28)}  # 14 calls, none on ICU days
    inst = instance(shifts=(CALL,), days=28)
    inst.rotation = {("R1", d): "ICU" if d < 14 else "WARDS" for d in range(28)}
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "infeasible"
    inst = instance(shifts=(CALL,), days=28)
    inst.rotation = {("R1", d): "WARDS" for d in range(28)}  # never on ICU: not bound
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "optimal"


# ---------------------------------------------------------------------------- windows at the edges


def test_a_long_block_keeps_only_the_windows_no_neighbour_implies_and_still_refuses_what_the_checker_finds() -> None:
    """Hard, a window that starts before the block (or ends after it) and whose neighbour holds its days at
    a bound no greater is left out: the model still refuses exactly the schedules the checker faults."""
    import random

    from rotaflow.constraints.model import build_model

    inst = instance(people=("R1", "R2"), shifts=(CALL,), days=40)
    inst.history = past_calls(inst, range(-12, 0, 3))  # R1: 4 calls just before the block
    rules = configured(RULE)
    guards = build_model(inst, rules, enforce=False).guards
    windows = {
        person: sorted(g.detail["first"] for g in guards.values() if g.detail["person"] == person)
        for person in ("R1", "R2")
    }
    assert windows["R2"] == list(range(13))  # the windows inside the block: 0..12 (days 0-27 .. 12-39)
    assert windows["R1"] == [-12, -9, -6, -3, *range(13)]  # and those a past call makes tighter
    soft = build_model(inst, configured(RULE, kind="soft"), enforce=False)
    assert len({p.name for p in soft.penalties if p.name.startswith("R2:")}) == 49  # soft: every window counts
    rng = random.Random(7)
    outcomes = set()
    for gap in (2, 3, 3, 3, 4):
        for _ in range(3):
            offset = rng.randrange(gap)
            cells = {(p, d, "CALL") for p in ("R1", "R2") for d in range(offset, 40, gap) if rng.random() < 0.95}
            faulted = bool(found(inst, rules, cells))
            outcomes.add(faulted)
            assert status(inst, rules, cells) == ("infeasible" if faulted else "optimal"), (gap, sorted(cells))
    assert outcomes == {True, False}
