"""continuity: change as little as possible of a given (published) schedule (soft)."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Instance, Schedule
from rotaflow.constraints.rules import continuity
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, instance, solve_with, violations

RULE = "continuity"
PUBLISHED = frozenset({("R1", 0, "DAY"), ("R1", 1, "NIGHT"), ("R2", 2, "DAY")})


def republished(**kwargs: object) -> Instance:
    return instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=3, previous=PUBLISHED, **kwargs)


@pytest.mark.parametrize(
    ("cells", "changes"),
    [
        (set(PUBLISHED), 0),
        (set(PUBLISHED) - {("R1", 0, "DAY")}, 1),  # a shift removed
        (set(PUBLISHED) | {("R2", 0, "NIGHT")}, 1),  # a shift added
        ((set(PUBLISHED) - {("R1", 1, "NIGHT")}) | {("R1", 1, "DAY")}, 2),  # a night swapped for a day
        (set(), 3),
    ],
)
def test_each_shift_added_or_removed_costs_its_weight(cells: set, changes: int) -> None:
    inst = republished()
    result = solve_with(inst, configured(RULE, weight=4), pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 4 * changes)
    assert continuity.penalty(Schedule.of(inst, cells)) == changes
    found = [
        (v.rule, v.person, v.first_day, v.last_day, v.value, v.severity)
        for v in violations(inst, configured(RULE), cells)
    ]
    assert found == ([(RULE, None, 0, 2, changes, "warning")] if changes else [])


def test_a_free_solve_keeps_the_published_schedule() -> None:
    inst = republished()
    result = solve_with(inst, configured(RULE))
    assert (result.status, result.objective, result.cells) == ("optimal", 0, PUBLISHED)


def test_without_a_previous_schedule_nothing_is_a_change() -> None:
    inst = instance(people=("R1",), shifts=(DAY,), days=2)
    cells = {("R1", 0, "DAY")}
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).objective == 0
    assert continuity.penalty(Schedule.of(inst, cells)) == 0
    assert violations(inst, configured(RULE), cells) == []


def test_only_changes_for_people_the_rule_applies_to_count() -> None:
    inst = republished()
    rules = configured(RULE, applies_to={"person_ids": ["R1"]})
    cells = set(PUBLISHED) - {("R2", 2, "DAY")}
    assert solve_with(inst, rules, pins=exactly(inst, cells)).objective == 0
    assert violations(inst, rules, cells) == []
    assert continuity.penalty(Schedule.of(inst, cells)) == 1  # the module's penalty counts everyone


def test_a_previous_shift_outside_the_block_is_not_a_change() -> None:
    inst = instance(people=("R1",), shifts=(DAY,), days=3, previous=frozenset({("R1", 0, "DAY"), ("R1", 10, "DAY")}))
    cells = {("R1", 0, "DAY")}
    assert solve_with(inst, configured(RULE), pins=exactly(inst, cells)).objective == 0
    assert continuity.penalty(Schedule.of(inst, cells)) == 0
    assert violations(inst, configured(RULE), cells) == []
