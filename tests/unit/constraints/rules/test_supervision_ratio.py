"""supervision_ratio: enough faculty on a shift for its residents (PGY-1 1:2, others 1:4)."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Demand, Instance, PersonSpec
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with, violations

RULE = "supervision_ratio"
FACULTY = ("F1", "F2", "F3")
INTERNS = ("I1", "I2", "I3")  # PGY-1
SENIORS = ("S1", "S2", "S3", "S4", "S5")  # PGY-2
PEOPLE = (
    *(PersonSpec(f, role="faculty") for f in FACULTY),
    *(PersonSpec(i, "resident", 1) for i in INTERNS),
    *(PersonSpec(s, "resident", 2) for s in SENIORS),
)
ATTENDING_ROW = Demand(0, "DAY", frozenset(FACULTY), min=1)
"""A faculty-only coverage row: it marks the day shift of day 0 as supervised."""


def team(faculty: int, interns: int, seniors: int, *, day: int = 0, shift: str = "DAY") -> set[tuple[str, int, str]]:
    people = FACULTY[:faculty] + INTERNS[:interns] + SENIORS[:seniors]
    return {(p, day, shift) for p in people}


def hospital(*demands: Demand) -> Instance:
    return instance(people=PEOPLE, shifts=(DAY, NIGHT), days=2, demands=demands)


@pytest.mark.parametrize(
    ("interns", "seniors", "faculty", "needed"),
    [
        (0, 0, 0, 0),
        (1, 0, 1, 1),
        (2, 0, 1, 1),
        (3, 0, 1, 2),
        (0, 4, 1, 1),
        (0, 5, 1, 2),
        (1, 1, 1, 1),  # ⌈0.5 + 0.25⌉
        (2, 2, 1, 2),  # ⌈1 + 0.5⌉
        (2, 4, 2, 2),  # ⌈1 + 1⌉
        (2, 4, 1, 2),
        (3, 5, 2, 3),
        (3, 5, 3, 3),
    ],
)
def test_a_supervised_shift_needs_half_a_faculty_per_intern_and_a_quarter_per_senior(
    interns: int, seniors: int, faculty: int, needed: int
) -> None:
    inst = hospital(ATTENDING_ROW)
    cells = team(faculty, interns, seniors)
    rules = configured(RULE)
    ok = faculty >= needed
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, None, 0, 0, faculty, needed)])


def test_the_checker_explains_the_shortfall() -> None:
    inst = hospital(ATTENDING_ROW)
    (violation,) = violations(inst, configured(RULE), team(1, 2, 4))
    assert violation.message == "DAY on 2027-07-05 has 1 faculty for 2 PGY-1 and 4 other residents; it needs 2"


@pytest.mark.parametrize(
    "row",
    [
        Demand(0, "NIGHT", frozenset(FACULTY), min=1),  # another shift
        Demand(0, "DAY", frozenset({"F1", "S1"}), min=1),  # not faculty-only
        Demand(0, "DAY", frozenset(FACULTY), min=0, max=3),  # no faculty minimum
    ],
    ids=["other-shift", "mixed-row", "no-minimum"],
)
def test_a_shift_without_a_faculty_minimum_is_not_supervised(row: Demand) -> None:
    inst = hospital(row)
    cells = team(0, 3, 5)
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, configured(RULE), cells) == []


def test_listed_shifts_are_supervised_every_day() -> None:
    inst = hospital(ATTENDING_ROW)  # the row is ignored once shifts are listed
    rules = configured(RULE, params={"shifts": ["NIGHT", "UNKNOWN"]})
    unsupervised_night = team(0, 1, 0, day=1, shift="NIGHT")
    unsupervised_day = team(0, 1, 0, day=0, shift="DAY")
    assert solve_with(inst, rules, pins=exactly(inst, unsupervised_night)).status == "infeasible"
    assert found(inst, rules, unsupervised_night) == [(RULE, None, 1, 1, 0, 1)]
    assert solve_with(inst, rules, pins=exactly(inst, unsupervised_day)).status == "optimal"
    assert found(inst, rules, unsupervised_day) == []


@pytest.mark.parametrize(
    ("params", "interns", "seniors", "faculty", "ok"),
    [
        ({"pgy1_per_faculty": 1}, 2, 0, 1, False),
        ({"pgy1_per_faculty": 1}, 2, 0, 2, True),
        ({"others_per_faculty": 2}, 0, 3, 1, False),
        ({"others_per_faculty": 3}, 0, 3, 1, True),
    ],
)
def test_the_ratios_are_parameters(params: dict, interns: int, seniors: int, faculty: int, ok: bool) -> None:
    inst = hospital(ATTENDING_ROW)
    rules = configured(RULE, params=params)
    cells = team(faculty, interns, seniors)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert (found(inst, rules, cells) == []) is ok


def test_only_residents_the_rule_applies_to_count() -> None:
    inst = hospital(ATTENDING_ROW)
    rules = configured(RULE, applies_to={"pgy": [1]})
    seniors_alone = team(0, 0, 5)
    interns_alone = team(0, 1, 0)
    assert solve_with(inst, rules, pins=exactly(inst, seniors_alone)).status == "optimal"
    assert found(inst, rules, seniors_alone) == []
    assert solve_with(inst, rules, pins=exactly(inst, interns_alone)).status == "infeasible"
    assert found(inst, rules, interns_alone) == [(RULE, None, 0, 0, 0, 1)]


def test_a_ratio_below_one_is_refused() -> None:
    with pytest.raises(RuleSetError, match="params.pgy1_per_faculty"):
        configured(RULE, params={"pgy1_per_faculty": 0})
