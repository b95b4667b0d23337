"""forbidden_successions: some shifts may not be followed by certain shifts the next day."""

from __future__ import annotations

import pytest

from tests.unit.constraints.ruletools import (
    DAY,
    NIGHT,
    configured,
    exactly,
    found,
    history,
    instance,
    solve_with,
    violations,
)

RULE = "forbidden_successions"
PARAMS = {"pairs": [["NIGHT", "DAY"], ["NIGHT", "MISSING"]]}
"""No day shift the day after a night shift (pairs naming unknown shifts are ignored)."""


@pytest.mark.parametrize(
    ("cells", "breaks"),
    [
        ({("R1", 0, "DAY"), ("R1", 1, "NIGHT")}, []),  # day then night is fine
        ({("R1", 0, "NIGHT"), ("R1", 1, "NIGHT")}, []),
        ({("R1", 0, "NIGHT"), ("R1", 2, "DAY")}, []),  # a day off between them
        ({("R1", 2, "NIGHT")}, []),  # a night on the last day
        ({("R1", 0, "NIGHT"), ("R1", 1, "DAY")}, [0]),
        ({("R1", 0, "NIGHT"), ("R1", 1, "NIGHT"), ("R1", 2, "DAY")}, [1]),
    ],
)
def test_a_night_is_never_followed_by_a_day_shift(cells: set, breaks: list[int]) -> None:
    inst = instance(shifts=(DAY, NIGHT), days=3)
    rules = configured(RULE, params=PARAMS)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("infeasible" if breaks else "optimal")
    assert found(inst, rules, cells) == [(RULE, "R1", d, d + 1, 1, 0) for d in breaks]


def test_the_message_names_both_shifts() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=2)
    (violation,) = violations(inst, configured(RULE, params=PARAMS), {("R1", 0, "NIGHT"), ("R1", 1, "DAY")})
    assert violation.message == "R1 works NIGHT on 2027-07-05 and then DAY, which may not follow it"


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=2)
    rules = configured(RULE, params=PARAMS, applies_to={"person_ids": ["R2"]})
    r1 = {("R1", 0, "NIGHT"), ("R1", 1, "DAY")}
    r2 = {("R2", 0, "NIGHT"), ("R2", 1, "DAY")}
    assert solve_with(inst, rules, pins=exactly(inst, r1)).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, r2)).status == "infeasible"
    assert found(inst, rules, r1 | r2) == [(RULE, "R2", 0, 1, 1, 0)]


def test_as_a_soft_rule_each_forbidden_succession_costs_its_weight() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=4)
    rules = configured(RULE, kind="soft", weight=9, params=PARAMS)
    cells = {("R1", 0, "NIGHT"), ("R1", 1, "DAY"), ("R1", 2, "NIGHT"), ("R1", 3, "DAY")}
    result = solve_with(inst, rules, pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 9 * 2)


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize(
    ("past", "cells", "breaks"),
    [
        ("NIGHT", {("R1", 0, "DAY")}, [-1]),  # a night on the day before the block, then a day shift
        ("NIGHT", {("R1", 0, "NIGHT"), ("R1", 1, "NIGHT")}, []),
        ("DAY", {("R1", 0, "DAY")}, []),
    ],
)
def test_a_night_worked_the_day_before_the_block_is_followed_by_no_day_shift(
    kind: str, past: str, cells: set, breaks: list[int]
) -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=3)
    inst.history = history(inst, "R1", (-2, -1), past) + history(inst, "R2", (-3,), "NIGHT")
    rules = configured(RULE, kind=kind, params=PARAMS)
    result = solve_with(inst, rules, pins=exactly(inst, cells | {("R2", 0, "DAY")}))
    if kind == "hard":
        assert result.status == ("infeasible" if breaks else "optimal")
    else:
        assert result.status == "optimal" and result.objective == len(breaks)
    assert found(inst, rules, cells) == [(RULE, "R1", d, d + 1, 1, 0) for d in breaks]
