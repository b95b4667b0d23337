"""Infeasibility diagnosis: the crafted cases of test_preflight.py, diagnosed without the screens.

Each conflict is checked to be a real, minimal one: with the enforcement literals of its groups
as assumptions the model is infeasible, and without any one of them it is feasible.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from ortools.sat.python import cp_model

import rotaflow.constraints.explain as explain
from rotaflow.constraints.explain import Conflict, diagnose
from rotaflow.constraints.instance import Demand, Instance, PersonSpec, ShiftSpec
from rotaflow.constraints.model import build_model
from rotaflow.constraints.registry import RULES
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance
from tests.unit.constraints.test_preflight import (
    DEFAULT,
    edit,
    five_of_five_one_on_nights,
    five_of_four,
    instance_of,
    nights_every_day,
    only_one_on_leave,
    overlapping,
    rules,
    tiny_ok,
)

# --------------------------------------------------------------------------- helpers


def names(conflicts: list[Conflict]) -> set[str]:
    return {f"{c.rule}({c.subject})" for c in conflicts}


class Groups:
    """The hard rule groups of an instance, built once; solve with any of them binding."""

    def __init__(self, inst: Instance, rule_set: list[ConfiguredRule]) -> None:
        self.built = build_model(inst, [r for r in rule_set if r.kind == "hard"], enforce=False)
        self.built.model.clear_objective()

    def feasible(self, groups: set[str]) -> bool:
        """Solve with only these groups binding (every other group free)."""
        model = self.built.model
        model.clear_assumptions()
        model.add_assumptions([self.built.guards[name].literal for name in sorted(groups)])
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = 20.0
        solver.parameters.num_workers = 2
        status = solver.solve(model)
        assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.INFEASIBLE), solver.status_name(status)
        return status != cp_model.INFEASIBLE


def assert_minimal(inst: Instance, rule_set: list[ConfiguredRule], conflicts: list[Conflict]) -> None:
    """The groups conflict, and without any one of them the rest can hold."""
    groups = names(conflicts)
    assert len(groups) == len(conflicts), "a group is listed twice"
    solver = Groups(inst, rule_set)
    assert not solver.feasible(groups), "the groups do not conflict"
    for group in sorted(groups):
        assert solver.feasible(groups - {group}), f"still infeasible without {group}"


def assert_plain(conflicts: list[Conflict]) -> None:
    """Each message is the rule's summary in words, then the subject; no solver artefacts."""
    for c in conflicts:
        if c.rule == "coverage":
            assert c.message.startswith("coverage needs at least "), c.message
        else:
            summary = RULES[c.rule].summary if c.rule in RULES else "a pinned assignment"
            assert c.message == f"{summary}: {c.subject}"
        assert c.message.endswith(c.subject)
        for artefact in ("guard", "x[", "{", "}", "IntVar", "literal", "None"):
            assert artefact not in c.message, c.message


# --------------------------------------------------------------------------- the crafted cases


def test_five_needed_of_four_names_the_coverage_group_of_that_shift_and_date() -> None:
    inst, rule_set = five_of_four()
    conflicts = diagnose(inst, rule_set, time_limit=20)
    assert names(conflicts) == {"coverage(shift=DAY, date=2027-07-05)"}
    [c] = conflicts
    assert (c.people, c.dates) == ((), ("2027-07-05",))
    assert c.message == (
        "coverage needs at least 5 of the 4 people who count for it (coverage.csv row 5): shift=DAY, date=2027-07-05"
    )
    assert_minimal(inst, rule_set, conflicts)
    assert_plain(conflicts)


def test_five_needed_of_five_when_one_is_kept_away_by_rotation() -> None:
    inst, rule_set = five_of_five_one_on_nights()
    conflicts = diagnose(inst, rule_set, time_limit=20)
    assert names(conflicts) == {"coverage(shift=DAY, date=2027-07-05)", "rotation_eligibility(person=R3)"}
    assert_minimal(inst, rule_set, conflicts)
    assert_plain(conflicts)


def test_the_only_eligible_resident_on_leave() -> None:
    inst, rule_set = only_one_on_leave()
    conflicts = diagnose(inst, rule_set, time_limit=20)
    assert names(conflicts) == {
        "coverage(shift=NIGHT, date=2027-07-12)",
        "blocking_absence(person=R3, from=2027-07-12, to=2027-07-12)",
    }
    leave = next(c for c in conflicts if c.rule == "blocking_absence")
    assert (leave.people, leave.dates) == (("R3",), ("2027-07-12", "2027-07-12"))
    assert leave.message == "no shifts during blocking absences: person=R3, from=2027-07-12, to=2027-07-12"
    assert_minimal(inst, rule_set, conflicts)
    assert_plain(conflicts)


def long_days() -> Instance:
    """R1 must work 16-hour days on 21 of 28 days (every fourth day off): 336 h > 320 h.

    The days off leave enough free 24-hour periods, so only the 80-hour rule is broken, and only
    the window 2027-07-01..07-28 holds all 21 shifts.
    """
    return Instance(
        name="long days",
        start=dt.date(2027, 7, 1),
        days=28,
        people=(PersonSpec("R1", "resident", 2),),
        shifts=(ShiftSpec("LONG", start=dt.time(7), end=dt.time(23)),),
        timezone="America/New_York",
        demands=tuple(Demand(d, "LONG", frozenset({"R1"}), min=1) for d in range(28) if d % 4 != 1),
    )


LONG_DAYS_CONFLICT = {"acgme_weekly_hours(person=R1, window=2027-07-01)"} | {
    f"coverage(shift=LONG, date={dt.date(2027, 7, 1) + dt.timedelta(days=d)})" for d in range(28) if d % 4 != 1
}


def test_eighty_hours_a_week_against_the_coverage_it_cannot_hold() -> None:
    inst = long_days()
    conflicts = diagnose(inst, DEFAULT, time_limit=30)
    assert names(conflicts) == LONG_DAYS_CONFLICT
    weekly = next(c for c in conflicts if c.rule == "acgme_weekly_hours")
    assert (weekly.people, weekly.dates) == (("R1",), ("2027-07-01", "2027-07-28"))
    assert weekly.message == "80 hours a week averaged over 4 weeks: person=R1, window=2027-07-01"
    assert_minimal(inst, DEFAULT, conflicts)
    assert_plain(conflicts)


def test_the_tiny_night_float_breaks_the_80_hour_rule_once_other_limits_are_off() -> None:
    inst, _ = nights_every_day()
    structural = rules(
        "one_shift_at_a_time", "rotation_eligibility", "blocking_absence", "coverage", "acgme_weekly_hours"
    )
    conflicts = diagnose(inst, structural, time_limit=30)
    rules_named = {c.rule for c in conflicts}
    assert rules_named == {"acgme_weekly_hours", "coverage"}
    [weekly] = [c for c in conflicts if c.rule == "acgme_weekly_hours"]
    assert weekly.people == ("R3",) and weekly.subject.startswith("person=R3, window=")
    assert {c.subject.split(",")[0] for c in conflicts if c.rule == "coverage"} == {"shift=NIGHT"}
    assert len(conflicts) >= 27  # 320 h hold 26 nights and a part of another, not 27 whole ones
    assert_minimal(inst, structural, conflicts)


def test_the_tiny_night_float_under_all_rules_is_explained_by_some_conflict() -> None:
    inst, rule_set = nights_every_day()
    conflicts = diagnose(inst, rule_set, time_limit=30)
    assert conflicts and {c.rule for c in conflicts} - {"coverage"} <= {
        "acgme_weekly_hours",
        "acgme_day_off_in_seven",
        "max_consecutive_nights",
    }
    assert any(c.people == ("R3",) for c in conflicts)
    assert_minimal(inst, rule_set, conflicts)
    assert_plain(conflicts)


def test_overlapping_shifts_for_one_person() -> None:
    inst = overlapping()
    conflicts = diagnose(inst, DEFAULT, time_limit=20)
    assert names(conflicts) == {
        "coverage(shift=EARLY, date=2027-07-05)",
        "coverage(shift=LATE, date=2027-07-05)",
        "one_shift_at_a_time(person=R1)",
    }
    assert_minimal(inst, DEFAULT, conflicts)
    assert_plain(conflicts)


def test_a_pin_on_a_day_of_leave() -> None:
    files = edit(tiny_ok(), add={"absences.csv": ["R3,2027-07-17,2027-07-18,vacation,true"]})  # a weekend
    bundle = parse_bundle(files)
    inst = block_instance(bundle, "B1", pins={("R3", dt.date(2027, 7, 17), "NIGHT"): True})
    conflicts = diagnose(inst, DEFAULT, time_limit=20)
    assert names(conflicts) == {
        "pinned(person=R3, date=2027-07-17, shift=NIGHT)",
        "blocking_absence(person=R3, from=2027-07-17, to=2027-07-18)",
    }
    pin = next(c for c in conflicts if c.rule == "pinned")
    assert (pin.people, pin.dates) == (("R3",), ("2027-07-17",))
    assert pin.message == "a pinned assignment: person=R3, date=2027-07-17, shift=NIGHT"
    assert_minimal(inst, DEFAULT, conflicts)
    assert_plain(conflicts)


def test_a_feasible_block_has_no_conflict() -> None:
    inst, rule_set = instance_of(tiny_ok())
    assert diagnose(inst, rule_set, time_limit=20) == []


def test_a_feasible_instance_with_only_soft_rules_has_no_conflict() -> None:
    assert diagnose(overlapping(), rules("coverage_target", "shift_requests"), time_limit=5) == []


def test_conflicts_read_as_plain_data() -> None:
    inst, rule_set = only_one_on_leave()
    rows = [c.as_dict() for c in diagnose(inst, rule_set, time_limit=20)]
    assert sorted(rows, key=lambda r: str(r["rule"])) == [
        {
            "rule": "blocking_absence",
            "subject": "person=R3, from=2027-07-12, to=2027-07-12",
            "message": "no shifts during blocking absences: person=R3, from=2027-07-12, to=2027-07-12",
            "people": ["R3"],
            "dates": ["2027-07-12", "2027-07-12"],
        },
        {
            "rule": "coverage",
            "subject": "shift=NIGHT, date=2027-07-12",
            "message": "coverage needs at least 1 of the 1 people who count for it (coverage.csv row 2): "
            "shift=NIGHT, date=2027-07-12",
            "people": [],
            "dates": ["2027-07-12"],
        },
    ]


def test_out_of_time_the_unshrunk_core_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the time runs out before the deletion filter, the solver's core comes back as found."""
    clock = itertools.chain([0.0], itertools.repeat(1_000.0))
    monkeypatch.setattr(explain.time, "monotonic", lambda: next(clock))
    inst = long_days()
    conflicts = diagnose(inst, DEFAULT, time_limit=10)
    assert names(conflicts) >= LONG_DAYS_CONFLICT  # any conflict here holds the minimal one
    assert not Groups(inst, DEFAULT).feasible(names(conflicts))


class _Core:
    """A solver stand-in whose core is the given assumption literals."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = indexes

    def sufficient_assumptions_for_infeasibility(self) -> list[int]:
        return self.indexes


@pytest.mark.parametrize("core", ["every group", "no group"])
def test_the_deletion_filter_shrinks_whatever_core_the_solver_gives(monkeypatch: pytest.MonkeyPatch, core: str) -> None:
    """Given every group as the core, the filter still ends at the minimal conflict; given none, no conflict."""
    real = explain._solve
    first = [True]

    def loose(model: cp_model.CpModel, assumptions: list[cp_model.IntVar], seconds: float) -> tuple[int, object]:
        status, solver = real(model, assumptions, seconds)
        if first.pop() if first else False:
            return status, _Core([lit.index for lit in assumptions] if core == "every group" else [])
        return status, solver

    monkeypatch.setattr(explain, "_solve", loose)
    inst = overlapping()
    inst.days = 2  # few groups: the filter solves once per group
    inst.demands = (*inst.demands, Demand(1, "EARLY", frozenset({"R1"}), min=1))  # a group outside the conflict
    rule_set = rules(
        "one_shift_at_a_time", "rotation_eligibility", "blocking_absence", "coverage", "acgme_weekly_hours"
    )
    conflicts = diagnose(inst, rule_set, time_limit=60)
    if core == "no group":
        assert conflicts == []
        return
    assert names(conflicts) == {
        "coverage(shift=EARLY, date=2027-07-05)",
        "coverage(shift=LATE, date=2027-07-05)",
        "one_shift_at_a_time(person=R1)",
    }
    assert_minimal(inst, rule_set, conflicts)
