"""shift_requests: grant on/off requests where possible (soft, weighted)."""

from __future__ import annotations

import pytest

from rotaflow.constraints.instance import Instance, RequestSpec, Schedule
from rotaflow.constraints.rules import shift_requests
from rotaflow.constraints.ruleset import RuleSetError
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, exactly, instance, solve_with, violations

RULE = "shift_requests"


def with_requests(*requests: RequestSpec) -> Instance:
    return instance(people=("R1", "R2"), shifts=(DAY, NIGHT), days=3, requests=requests)


@pytest.mark.parametrize(
    ("request_", "cells", "cost"),
    [
        (RequestSpec("R1", 1, "DAY", "on", 3), {("R1", 1, "DAY")}, 0),
        (RequestSpec("R1", 1, "DAY", "on", 3), set(), 3),
        (RequestSpec("R1", 1, "DAY", "on", 3), {("R1", 1, "NIGHT")}, 3),  # another shift does not grant it
        (RequestSpec("R1", 1, "NIGHT", "off", 2), set(), 0),
        (RequestSpec("R1", 1, "NIGHT", "off", 2), {("R1", 1, "DAY")}, 0),  # only the night was to be avoided
        (RequestSpec("R1", 1, "NIGHT", "off", 2), {("R1", 1, "NIGHT")}, 2),
        (RequestSpec("R1", 1, None, "on", 4), {("R1", 1, "NIGHT")}, 0),  # any shift that day will do
        (RequestSpec("R1", 1, None, "on", 4), {("R1", 0, "NIGHT")}, 4),
        (RequestSpec("R1", 1, None, "off", 5), {("R1", 0, "DAY"), ("R1", 2, "DAY")}, 0),
        (RequestSpec("R1", 1, None, "off", 5), {("R1", 1, "DAY")}, 5),
        (RequestSpec("R1", 7, "DAY", "on", 5), set(), 0),  # outside the block: ignored
    ],
)
def test_each_request_not_granted_costs_its_weight(request_: RequestSpec, cells: set, cost: int) -> None:
    inst = with_requests(request_)
    result = solve_with(inst, configured(RULE, weight=10), pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 10 * cost)
    assert shift_requests.penalty(Schedule.of(inst, cells)) == cost
    found = [
        (v.rule, v.person, v.first_day, v.last_day, v.value, v.severity)
        for v in violations(inst, configured(RULE), cells)
    ]
    assert found == ([(RULE, "R1", request_.day, request_.day, cost, "warning")] if cost else [])


def test_requests_add_up() -> None:
    inst = with_requests(
        RequestSpec("R1", 0, "DAY", "on", 1),
        RequestSpec("R1", 1, None, "off", 2),
        RequestSpec("R2", 2, "NIGHT", "on", 4),
        RequestSpec("R2", 0, None, "off", 8),
    )
    cells = {("R1", 1, "DAY"), ("R2", 2, "NIGHT")}
    result = solve_with(inst, configured(RULE), pins=exactly(inst, cells))
    assert (result.status, result.objective) == ("optimal", 1 + 2)
    assert shift_requests.penalty(Schedule.of(inst, cells)) == 3


def test_a_free_solve_grants_every_request_it_can() -> None:
    inst = with_requests(RequestSpec("R1", 0, "DAY", "on", 1), RequestSpec("R2", 0, None, "off", 1))
    result = solve_with(inst, configured(RULE))
    assert (result.status, result.objective) == ("optimal", 0)
    assert ("R1", 0, "DAY") in result.cells and not any(p == "R2" and d == 0 for p, d, _ in result.cells)


def test_the_message_says_what_was_asked() -> None:
    inst = with_requests(RequestSpec("R1", 1, None, "off", 1), RequestSpec("R1", 2, "NIGHT", "on", 1))
    assert [v.message for v in violations(inst, configured(RULE), {("R1", 1, "DAY")})] == [
        "R1's request to be off the day on 2027-07-06 was not granted",
        "R1's request to work NIGHT on 2027-07-07 was not granted",
    ]


def test_only_requests_of_people_the_rule_applies_to_count() -> None:
    inst = with_requests(RequestSpec("R1", 0, "DAY", "on", 3), RequestSpec("R2", 0, "DAY", "on", 5))
    rules = configured(RULE, applies_to={"person_ids": ["R2"]})
    result = solve_with(inst, rules, pins=exactly(inst, set()))
    assert result.objective == 5
    assert [v.person for v in violations(inst, rules, set())] == ["R2"]


def test_shift_requests_cannot_be_hard() -> None:
    with pytest.raises(RuleSetError, match="shift_requests cannot be hard"):
        configured(RULE, kind="hard")
