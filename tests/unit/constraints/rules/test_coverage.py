"""coverage: every shift gets at least ``min`` and at most ``max`` of the people who count for it."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Demand, Instance, Schedule
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with, violations

RULE = "coverage"
TEAM = frozenset({"R1", "R2", "R3"})


def ward(*demands: Demand) -> Instance:
    """R1-R3 count for the ward; R4 works elsewhere."""
    return instance(people=("R1", "R2", "R3", "R4"), shifts=(DAY, NIGHT), days=2, demands=demands)


def on_day_shift(*people: str) -> set[tuple[str, int, str]]:
    return {(p, 0, "DAY") for p in people}


@pytest.mark.parametrize(
    ("working", "low", "high", "ok"),
    [
        ((), 0, None, True),
        (("R1",), 1, None, True),
        (("R1", "R2"), 2, 2, True),
        (("R1", "R2", "R3"), 2, 3, True),
        (("R1",), 2, None, False),  # short of the minimum
        (("R1", "R4"), 2, None, False),  # R4 is not in the row, so does not count
        (("R1", "R2"), 0, 1, False),  # over the maximum
        (("R1", "R2", "R3"), 1, 2, False),
        (("R1", "R2", "R3", "R4"), 0, 3, True),  # R4 does not count against the maximum either
    ],
)
def test_a_shift_is_staffed_between_its_minimum_and_maximum(
    working: tuple, low: int, high: int | None, ok: bool
) -> None:
    inst = ward(Demand(0, "DAY", TEAM, min=low, max=high))
    cells = on_day_shift(*working)
    status = solve_with(inst, configured(RULE), pins=exactly(inst, cells)).status
    assert status == ("optimal" if ok else "infeasible")
    assert (violations(inst, configured(RULE), cells) == []) is ok


def test_the_checker_names_a_shift_short_of_its_minimum() -> None:
    inst = ward(Demand(0, "DAY", TEAM, min=2, label="ward days"))
    cells = on_day_shift("R1")
    assert found(inst, configured(RULE), cells) == [(RULE, None, 0, 0, 1, 2)]
    (violation,) = violations(inst, configured(RULE), cells)
    assert violation.message == "DAY on 2027-07-05 has 1 of the 2 people it needs (ward days)"


def test_the_checker_names_a_shift_over_its_maximum() -> None:
    inst = ward(Demand(1, "NIGHT", TEAM, max=1))
    cells = {("R1", 1, "NIGHT"), ("R2", 1, "NIGHT")}
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).status == "infeasible"
    assert found(inst, configured(RULE), cells) == [(RULE, None, 1, 1, 2, 1)]
    (violation,) = violations(inst, configured(RULE), cells)
    assert violation.message == "NIGHT on 2027-07-06 has 2 people, more than its maximum of 1"


def test_a_free_solve_meets_every_minimum() -> None:
    inst = ward(Demand(0, "DAY", TEAM, min=2), Demand(1, "NIGHT", TEAM, min=3))
    result = solve_with(inst, configured(RULE))
    assert result.status == "optimal"
    assert violations(inst, configured(RULE), result.cells) == []


def test_as_a_soft_rule_each_missing_person_costs_its_weight() -> None:
    inst = ward(Demand(0, "DAY", TEAM, min=3, max=3), Demand(1, "DAY", TEAM, max=0))
    rules = configured(RULE, kind="soft", weight=5)
    cells = on_day_shift("R1") | {("R1", 1, "DAY")}
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 5 * (2 + 1))
    assert [(v.first_day, v.severity) for v in violations(inst, rules, cells)] == [(0, "warning"), (1, "warning")]


def test_the_checker_counts_the_people_of_each_shift_from_the_schedule() -> None:
    """``Schedule.by_slot``: who works each (day, shift) anyone works, read once for all the rows of a shift."""
    inst = ward(Demand(0, "DAY", TEAM, min=2), Demand(0, "DAY", frozenset({"R4"}), max=0))
    cells = {("R1", 0, "DAY"), ("R4", 0, "DAY"), ("R2", 1, "NIGHT")}
    schedule = Schedule.of(inst, cells)
    assert schedule.by_slot == {(0, "DAY"): frozenset({"R1", "R4"}), (1, "NIGHT"): frozenset({"R2"})}
    known = {(0, "DAY"): {"R1", "R4"}, (1, "NIGHT"): ["R2"], (1, "DAY"): set()}  # a caller's own count
    assert Schedule.of(inst, cells, by_slot=known).by_slot == schedule.by_slot
    assert found(inst, configured(RULE), cells) == [(RULE, None, 0, 0, 1, 2), (RULE, None, 0, 0, 1, 0)]
