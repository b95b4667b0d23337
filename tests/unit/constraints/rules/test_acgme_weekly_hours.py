"""acgme_weekly_hours: at most 80 hours a week, averaged over every four-week window."""

from __future__ import annotations

import datetime as dt

import pytest

from rotaflow.constraints.instance import HistoryShift, Instance, PersonSpec, ShiftSpec
from tests.unit.constraints.ruletools import Cells, configured, exactly, found, instance, solve_with, violations

RULE = "acgme_weekly_hours"

D12 = ShiftSpec("D12", start=dt.time(7), end=dt.time(19))
D10 = ShiftSpec("D10", start=dt.time(7), end=dt.time(17))
D11 = ShiftSpec("D11", start=dt.time(7), end=dt.time(18))
D13 = ShiftSpec("D13", start=dt.time(7), end=dt.time(20))
N12 = ShiftSpec("N12", start=dt.time(19), end=dt.time(7), kind="night")
SHIFTS = (D12, D10, D11, D13, N12)


def shifts(person: str, *runs: tuple[str, int], start: int = 0) -> Cells:
    """Consecutive days from ``start``: e.g. ("D12", 20), ("D10", 8) is 20 twelve-hour days, then 8 ten-hour days."""
    cells: Cells = set()
    day = start
    for shift, count in runs:
        for _ in range(count):
            cells.add((person, day, shift))
            day += 1
    return cells


def every_day_but(shift: str, *free: int, days: int = 28, start: int = 0, person: str = "R1") -> Cells:
    """``shift`` on each of ``days`` days from ``start``, except the days in ``free``."""
    return {(person, d, shift) for d in range(start, start + days) if d not in free}


def four_weeks(**kwargs: object) -> Instance:
    kwargs.setdefault("shifts", SHIFTS)
    return instance(days=28, **kwargs)  # type: ignore[arg-type]


def past_days(inst: Instance, first: int, last: int, person: str = "R1") -> tuple[HistoryShift, ...]:
    """Twelve-hour day shifts (07:00-19:00) already worked on days first..last (negative: before the block)."""
    out = []
    for day in range(first, last + 1):
        start = dt.datetime.combine(inst.date(day), dt.time(7), tzinfo=inst.zone).astimezone(dt.UTC)
        out.append(HistoryShift(person, start, start + dt.timedelta(hours=12), 720))
    return tuple(out)


# ---------------------------------------------------------------------------- the limit over 28 days


@pytest.mark.parametrize(
    ("runs", "hours"),
    [
        ((("D12", 26),), 312),
        ((("D12", 20), ("D10", 8)), 320),  # exactly 80 h a week
        ((("D10", 28),), 280),
    ],
    ids=["26x12h", "20x12h+8x10h=320h", "28x10h"],
)
def test_up_to_320_hours_in_28_days_is_admitted(runs: tuple[tuple[str, int], ...], hours: int) -> None:
    inst = four_weeks()
    cells = shifts("R1", *runs)
    assert sum(inst.slot(d, s).work_minutes for _, d, s in cells) == hours * 60
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "optimal"
    assert found(inst, rules, cells) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # 321 h: one hour over, and only the window from day 0 holds all of it
        (shifts("R1", ("D12", 20), ("D10", 7), ("D11", 1)), [(0, 27, 80.25)]),
        (every_day_but("D12", 13), [(0, 27, 81.0)]),  # 324 h over days 0..27
        # 336 h: the windows from day -1 and day 1 hold 27 of the 28 days, 324 h
        (every_day_but("D12"), [(-1, 26, 81.0), (0, 27, 84.0), (1, 28, 81.0)]),
    ],
    ids=["321h", "324h", "336h"],
)
def test_more_than_320_hours_in_28_days_is_refused(cells: Cells, expected: list[tuple[int, int, float]]) -> None:
    inst = four_weeks()
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", first, last, value, 80.0) for first, last, value in expected]


def test_81_hours_a_week_over_four_weeks_is_refused() -> None:
    inst = four_weeks(shifts=(D12,))
    rules = configured(RULE)
    # 27 twelve-hour days are wanted; the rule leaves room for 26 only.
    pins = {("R1", d, "D12"): True for d in range(26)}
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "optimal"
    pins[("R1", 26, "D12")] = True
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "infeasible"


def test_a_lower_limit_from_the_program_is_used() -> None:
    inst = four_weeks()
    cells = every_day_but("D12", 10, 11, 12, 13)  # 288 h = 72 h a week
    rules = configured(RULE, params={"limit_hours": 70})
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 27, 72.0, 70.0)]


def test_the_windows_roll_so_a_heavy_month_across_two_blocks_is_caught() -> None:
    inst = instance(shifts=(D12,), days=56)
    cells = every_day_but("D12", 27, start=14)  # 324 h over days 14..41
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 14, 41, 81.0, 80.0)]


# ---------------------------------------------------------------------------- block averaging


@pytest.mark.parametrize("where", ["meta", "params"])
def test_block_averaging_only_looks_at_fixed_four_week_blocks(where: str) -> None:
    inst = instance(shifts=(D12,), days=56)
    cells = every_day_but("D12", 27, start=14)  # 156 h and 168 h in the blocks, 324 h across them
    if where == "meta":
        inst.meta = {"acgme": {"averaging": "block"}}
        rules = configured(RULE)
    else:
        rules = configured(RULE, params={"averaging": "block"})
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "optimal"
    assert found(inst, rules, cells) == []


def test_block_averaging_refuses_a_block_over_320_hours() -> None:
    inst = instance(shifts=(D12,), days=56, meta={"acgme": {"averaging": "block"}})
    cells = shifts("R1", ("D12", 27), start=28)
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 28, 55, 81.0, 80.0)]


# ---------------------------------------------------------------------------- leave


LEAVE = {"R1": frozenset(range(21, 28))}  # the last week of the block is leave
"""With leave left out, the 21 working days allow 80 h × 21/7 = 240 h (an average of 60 h over 4 weeks)."""


@pytest.mark.parametrize(
    ("excluded", "runs", "expected"),
    [
        (True, (("D12", 20),), []),  # 240 h: exactly the limit on 21 non-leave days
        (True, (("D12", 19), ("D13", 1)), [(RULE, "R1", 0, 27, 60.25, 60.0)]),  # 241 h
        (False, (("D12", 19), ("D13", 1)), []),  # leave counted as days: 320 h allowed
        (False, (("D12", 21),), []),  # 252 h
    ],
    ids=["excluded-240h", "excluded-241h", "included-241h", "included-252h"],
)
def test_leave_days_leave_the_average_when_the_program_says_so(
    excluded: bool, runs: tuple[tuple[str, int], ...], expected: list[tuple]
) -> None:
    inst = four_weeks(leave_days=LEAVE)
    inst.meta = {"acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": excluded}}
    cells = shifts("R1", *runs)
    rules = configured(RULE)
    status = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status
    assert status == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_leave_is_left_out_of_the_average_by_default() -> None:
    inst = four_weeks(leave_days=LEAVE)
    cells = shifts("R1", ("D12", 19), ("D13", 1))
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"
    assert found(inst, rules, cells) == [(RULE, "R1", 0, 27, 60.25, 60.0)]


def test_the_rule_parameter_overrides_the_program_leave_setting() -> None:
    inst = four_weeks(leave_days=LEAVE, meta={"acgme": {"leave_excluded_from_average": True}})
    cells = shifts("R1", ("D12", 21))
    rules = configured(RULE, params={"leave_excluded_from_average": False})
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "optimal"
    assert found(inst, rules, cells) == []


# ---------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("worked", "expected"),
    [
        (5, []),  # 252 h before the block + 60 h = 312 h
        (6, [(RULE, "R1", -22, 5, 81.0, 80.0), (RULE, "R1", -21, 6, 81.0, 80.0)]),  # 324 h
    ],
    ids=["312h-with-history", "324h-with-history"],
)
def test_hours_worked_before_the_block_count_in_windows_that_cross_its_start(worked: int, expected: list) -> None:
    inst = instance(shifts=(D12,), days=7)
    inst.history = past_days(inst, -21, -1)
    cells = shifts("R1", ("D12", worked))
    rules = configured(RULE)
    status = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status
    assert status == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


def test_history_older_than_27_days_and_other_peoples_history_are_ignored() -> None:
    inst = instance(shifts=(D12,), days=7)
    inst.history = past_days(inst, -60, -28) + past_days(inst, -21, -1, person="R2")
    cells = shifts("R1", ("D12", 7))
    rules = configured(RULE)
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "optimal"
    assert found(inst, rules, cells) == []


def test_a_past_night_shift_counts_only_for_its_hours_inside_the_window() -> None:
    inst = instance(shifts=(D12,), days=7)
    # 19:00 on day -28 to 07:00 on day -27: five hours fall in the window starting on day -27.
    start = dt.datetime.combine(inst.date(-28), dt.time(19), tzinfo=inst.zone).astimezone(dt.UTC)
    night = HistoryShift("R1", start, start + dt.timedelta(hours=12), 720, kind="night")
    inst.history = (night, *past_days(inst, -26, -1))  # 26 × 12 h = 312 h
    cells = {("R1", 0, "D12")}
    rules = configured(RULE)
    # 7 + 312 + 12 = 331 h from day -27 to day 0 (12 h counted would be 84.0, none 81.0); 324 h from day -26.
    assert found(inst, rules, cells) == [(RULE, "R1", -27, 0, 82.75, 80.0), (RULE, "R1", -26, 1, 81.0, 80.0)]
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "infeasible"


def test_an_empty_block_is_admitted_even_when_the_previous_block_was_already_over() -> None:
    inst = instance(shifts=(D12,), days=1)
    inst.history = past_days(inst, -27, -1)  # 324 h in the 27 days before the block
    rules = configured(RULE)
    assert found(inst, rules, set()) == []
    assert solve_with(inst, rules, pins=exactly(inst, set()), time_limit=5).status == "optimal"


# ---------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("Pacific/Honolulu", []),  # no daylight saving: 320 h
        ("America/New_York", [(RULE, "R1", 0, 27, 80.25, 80.0)]),  # the night of 6-7 Nov lasts 13 h
    ],
)
def test_a_night_over_the_autumn_clock_change_is_an_hour_longer(timezone: str, expected: list) -> None:
    inst = four_weeks(start=dt.date(2027, 10, 17), timezone=timezone)
    night = inst.day_index(dt.date(2027, 11, 6))  # 19:00 Sat 6 Nov to 07:00 Sun 7 Nov
    assert night == 20
    # 19 × 12 h + one 12-hour night + 8 × 10 h = 320 h by the clock
    cells = shifts("R1", ("D12", 19), ("D10", 1)) | {("R1", night, "N12")} | shifts("R1", ("D10", 7), start=21)
    assert inst.slot(night, "N12").work_minutes == (13 if expected else 12) * 60
    rules = configured(RULE)
    status = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status
    assert status == ("infeasible" if expected else "optimal")
    assert found(inst, rules, cells) == expected


# ---------------------------------------------------------------------------- selectors


def test_faculty_are_not_bound_when_the_rule_applies_to_residents() -> None:
    inst = four_weeks(people=("R1", PersonSpec("F1", "faculty")))
    cells = shifts("F1", ("D12", 28))
    rules = configured(RULE, applies_to={"role": "resident"})
    assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == "optimal"
    assert found(inst, rules, cells) == []
    over = cells | every_day_but("D12", 13)
    assert solve_with(inst, rules, pins=exactly(inst, over), time_limit=5).status == "infeasible"
    assert found(inst, rules, over) == [(RULE, "R1", 0, 27, 81.0, 80.0)]


def test_a_rotation_selector_binds_the_windows_that_touch_that_rotation() -> None:
    inst = four_weeks(shifts=(D12,))
    rules = configured(RULE, applies_to={"rotation": ["ICU"]})
    pins = {("R1", d, "D12"): True for d in range(28)}  # 336 h in 28 days
    inst.rotation = {("R1", d): "ICU" if d < 14 else "CLINIC" for d in range(28)}
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "infeasible"
    assert {v.first_day for v in violations(inst, rules, set(pins))} == {-1, 0, 1}  # the windows holding 27+ shifts
    inst = four_weeks(shifts=(D12,))
    inst.rotation = {("R1", d): "CLINIC" for d in range(28)}  # never on ICU: not bound
    assert solve_with(inst, rules, pins=pins, time_limit=5).status == "optimal"
    assert violations(inst, rules, set(pins)) == []


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # nights 0..25 and 27: [0, 27] holds 26 nights and 5 h of the last (317 h); [1, 28] the 7 h of
        # night 0 after midnight, 25 nights and the last (319 h): under the limit, counted whole over it
        (shifts("R1", ("N12", 26)) | {("R1", 27, "N12")}, []),
        # nights 0..27: 27 × 12 + 5 = 329 h in [0, 27]; 7 + 27 × 12 = 331 h in [1, 28]
        (shifts("R1", ("N12", 28)), [(0, 27, 82.25), (1, 28, 82.75)]),
    ],
    ids=["317h-319h", "329h-331h"],
)
def test_nights_across_a_windows_edges_count_only_their_hours_inside(
    cells: Cells, expected: list[tuple[int, int, float]]
) -> None:
    inst = four_weeks()
    rules = configured(RULE)
    assert found(inst, rules, cells) == [(RULE, "R1", first, last, value, 80.0) for first, last, value in expected]
    status = solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status
    assert status == ("infeasible" if expected else "optimal")


# ---------------------------------------------------------------------------- windows at the edges


def test_a_long_block_leaves_out_edge_windows_a_neighbour_implies_and_still_refuses_what_the_checker_finds() -> None:
    """Hard, a window at an edge of the block whose neighbour holds its work (a night cut by its edge counts
    no more in it than in the neighbour) at a bound no greater is left out; with work before the block, leave
    and nights across midnight, the model refuses exactly the schedules the checker faults."""
    import random

    from rotaflow.constraints.model import build_model

    inst = instance(people=("R1", "R2"), shifts=(D12, N12), days=40, leave_days={"R2": frozenset({33, 34, 35})})
    inst.history = past_days(inst, -20, -1)  # R1: 240 h in the 20 days before the block
    rules = configured(RULE)
    guards = build_model(inst, rules, enforce=False).guards
    firsts = {
        person: {g.detail["first"] for g in guards.values() if g.detail["person"] == person} for person in ("R1", "R2")
    }
    assert set(range(13)) <= firsts["R2"] and min(firsts["R2"]) == 0 and len(firsts["R2"]) < 20
    assert set(range(-20, 0)) <= firsts["R1"]  # every window the past work makes tighter is kept
    soft = build_model(inst, configured(RULE, kind="soft"), enforce=False)
    assert len({p.name for p in soft.penalties if p.name.startswith("R2:")}) > 40  # soft: every window counts
    rng = random.Random(3)
    outcomes = set()
    for density in (0.5, 0.6, 0.7, 0.8, 0.9):
        for _ in range(3):
            cells = {
                (p, d, rng.choice(("D12", "N12"))) for p in ("R1", "R2") for d in range(40) if rng.random() < density
            }
            faulted = bool(found(inst, rules, cells))
            outcomes.add(faulted)
            assert solve_with(inst, rules, pins=exactly(inst, cells), time_limit=5).status == (
                "infeasible" if faulted else "optimal"
            ), (density, sorted(cells))
    assert outcomes == {True, False}
