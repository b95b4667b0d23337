"""max_shifts_per_type: a person works each shift type at most so many times."""

from __future__ import annotations

import pytest

from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, found, instance, solve_with

RULE = "max_shifts_per_type"


def nights(count: int, person: str = "R1") -> set[tuple[str, int, str]]:
    return {(person, d, "NIGHT") for d in range(count)}


@pytest.mark.parametrize(
    ("limit", "count", "ok"),
    [(0, 0, True), (0, 1, False), (1, 1, True), (2, 2, True), (2, 3, False), (3, 7, False)],
)
def test_nobody_works_a_shift_type_more_often_than_its_limit(limit: int, count: int, ok: bool) -> None:
    inst = instance(shifts=(DAY, NIGHT), days=7)
    rules = configured(RULE, params={"default": {"NIGHT": limit}})
    cells = nights(count)
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == ("optimal" if ok else "infeasible")
    assert found(inst, rules, cells) == ([] if ok else [(RULE, "R1", 0, 6, count, limit)])


def test_a_limit_of_zero_forbids_the_shift_type_even_in_a_free_solve() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=3)
    result = solve_with(inst, configured(RULE, params={"default": {"NIGHT": 0}}), pins={("R1", 0, "DAY"): True})
    assert result.status == "optimal"
    assert not any(shift == "NIGHT" for _, _, shift in result.cells)


def test_a_shift_type_without_a_limit_is_not_capped() -> None:
    inst = instance(shifts=(DAY, NIGHT), days=7)
    rules = configured(RULE, params={"default": {"NIGHT": 1}})
    cells = {("R1", d, "DAY") for d in range(7)}
    assert solve_with(inst, rules, pins=exactly(inst, cells)).status == "optimal"
    assert found(inst, rules, cells) == []


def test_a_personal_limit_overrides_the_default() -> None:
    inst = instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=7)
    rules = configured(RULE, params={"default": {"NIGHT": 1}, "limits": {"R1": {"NIGHT": 3}}})
    three_each = nights(3, "R1") | nights(3, "R2")
    assert solve_with(inst, rules, pins=exactly(inst, nights(3, "R1"))).status == "optimal"
    assert solve_with(inst, rules, pins=exactly(inst, nights(3, "R2"))).status == "infeasible"
    assert found(inst, rules, three_each) == [(RULE, "R2", 0, 6, 3, 1)]


def test_the_rule_binds_only_the_people_it_applies_to() -> None:
    inst = instance(people=("R1", "R2"), shifts=(NIGHT,), days=3)
    rules = configured(RULE, params={"default": {"NIGHT": 1}}, applies_to={"person_ids": ["R2"]})
    assert solve_with(inst, rules, pins=exactly(inst, nights(3, "R1"))).status == "optimal"
    assert found(inst, rules, nights(3, "R1") | nights(2, "R2")) == [(RULE, "R2", 0, 2, 2, 1)]


def test_as_a_soft_rule_each_extra_shift_costs_its_weight() -> None:
    inst = instance(shifts=(NIGHT,), days=7)
    rules = configured(RULE, kind="soft", weight=7, params={"default": {"NIGHT": 2}})
    result = solve_with(inst, rules, pins=exactly(inst, nights(5)))
    assert (result.status, result.objective) == ("optimal", 7 * 3)
