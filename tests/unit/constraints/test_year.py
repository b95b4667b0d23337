"""The year planner (``constraints.year``) on small hand-made years: every hard rule holds in the plan (checked
here by plain counting, not by the model), soft goals are served, impossible plans are diagnosed in words."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import pytest

from rotaflow.constraints.year import (
    Leave,
    PlanResult,
    Requirement,
    Resident,
    Rotation,
    Weights,
    Wish,
    YearProblem,
    diagnose,
    plan_year,
)

BLOCKS = tuple(f"B{n:02d}" for n in range(1, 7))


def rotations() -> tuple[Rotation, ...]:
    return (
        Rotation("WARD", "inpatient", False, min_residents=1, max_residents=3, max_consecutive_blocks=2),
        Rotation("ICU", "inpatient", False, max_residents=1),
        Rotation("CLINIC", "outpatient", True),
        Rotation("VAC", "leave", True, max_residents=1),
    )


def problem(**changes: object) -> YearProblem:
    residents = tuple(Resident(f"R{n}", 1 if n <= 3 else 2) for n in range(1, 6))
    base = YearProblem(
        residents=residents,
        blocks=BLOCKS,
        rotations=rotations(),
        requirements=(
            Requirement(1, "WARD", 2, 3),
            Requirement(1, "ICU", 1, 1),
            Requirement(1, "CLINIC", 1),
            Requirement(1, "VAC", 1, 1),
            Requirement(2, "WARD", 1),
            Requirement(2, "ICU", 1, 2),
            Requirement(2, "CLINIC", 1),
            Requirement(2, "VAC", 1, 1),
        ),
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def violations(p: YearProblem, result: PlanResult) -> list[str]:
    """Every hard rule counted from the plan alone."""
    plan = result.plan
    found: list[str] = []
    for person in p.residents:
        for block in p.blocks:
            if (person.id, block) not in plan:
                found.append(f"{person.id} has no rotation in {block}")
        years = Counter(plan[person.id, b] for b in p.blocks if (person.id, b) in plan)
        named = {q.rotation for q in p.requirements if q.pgy == person.pgy}
        locked = {r for (who, _), r in p.locked.items() if who == person.id}
        for rotation in years:
            if named and rotation not in named | locked:
                found.append(f"{person.id} on {rotation}, not a rotation of PGY-{person.pgy}")
        for q in p.requirements:
            if q.pgy != person.pgy:
                continue
            if years[q.rotation] < q.min_blocks or (q.max_blocks is not None and years[q.rotation] > q.max_blocks):
                found.append(f"{person.id} does {years[q.rotation]} of {q.rotation}")
        for rotation in p.rotations:
            k = rotation.max_consecutive_blocks
            run = 0
            for block in p.blocks:
                run = run + 1 if plan.get((person.id, block)) == rotation.id else 0
                if k is not None and run > k:
                    found.append(f"{person.id} does {run} blocks of {rotation.id} in a row")
    for block in p.blocks:
        head = Counter(r for (_, b), r in plan.items() if b == block)
        for rotation in p.rotations:
            override = p.capacity.get((block, rotation.id), (None, None))
            low = override[0] if override[0] is not None else rotation.min_residents
            high = override[1] if override[1] is not None else rotation.max_residents
            if (low is not None and head[rotation.id] < low) or (high is not None and head[rotation.id] > high):
                found.append(f"{rotation.id} has {head[rotation.id]} in {block}")
    for cell, rotation in p.locked.items():
        if plan.get(cell) != rotation:
            found.append(f"locked {cell} moved")
    leave_ok = {r.id for r in p.rotations if r.leave_allowed}
    for item in p.leave:
        if not item.soft and plan.get((item.person, item.block)) not in leave_ok:
            found.append(f"{item.person} away in {item.block} on {plan.get((item.person, item.block))}")
    return found


def test_a_plan_meets_every_requirement_capacity_and_run_limit() -> None:
    p = problem()
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal"
    assert violations(p, result) == []
    assert len(result.plan) == 5 * 6 and result.objective is not None and result.gap == 0.0


def test_locked_rows_stay_and_leave_lands_on_a_rotation_that_allows_it() -> None:
    p = problem(
        locked={("R1", "B01"): "ICU", ("R4", "B06"): "WARD"},
        leave=(Leave("R2", "B03", 10, "vacation"), Leave("R5", "B01", 5, "parental")),
    )
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal" and violations(p, result) == []
    assert result.plan["R1", "B01"] == "ICU" and result.plan["R4", "B06"] == "WARD"
    assert result.plan["R2", "B03"] in {"CLINIC", "VAC"} and result.plan["R5", "B01"] in {"CLINIC", "VAC"}


def test_wishes_are_granted_and_the_ones_that_cannot_be_are_reported() -> None:
    wishes = (
        Wish("R1", "B02", "ICU", "on", 3),
        Wish("R2", "B02", "ICU", "on", 1),  # ICU holds one resident: one of the two is refused
        Wish("R4", "B05", "WARD", "off", 1),
    )
    p = problem(wishes=wishes)
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal" and violations(p, result) == []
    assert result.plan["R1", "B02"] == "ICU" and result.plan["R4", "B05"] != "WARD"
    assert [(u.kind, u.person_id, u.block_id) for u in result.unmet] == [("wish", "R2", "B02")]
    assert "ICU is full in block B02 (1 of 1)" in result.unmet[0].reason
    assert result.penalties["wishes"] == Weights().wish * 1


def test_soft_leave_is_granted_where_it_can_be_and_reported_where_not() -> None:
    # three residents away in the same block, only CLINIC (no bound) and VAC (one) allow leave: all fit
    away = tuple(Leave(f"R{n}", "B04", 7, "vacation", soft=True) for n in (1, 2, 3))
    granted = plan_year(problem(leave=away), time_limit=10)
    assert granted.status == "optimal" and granted.unmet == []
    assert all(granted.plan[f"R{n}", "B04"] in {"CLINIC", "VAC"} for n in (1, 2, 3))
    # a locked WARD row for R1 in that block: R1's week cannot be granted
    p = problem(leave=away, locked={("R1", "B04"): "WARD"})
    refused = plan_year(p, time_limit=10)
    assert refused.status == "optimal" and violations(p, refused) == []
    assert [(u.kind, u.person_id, u.block_id, u.rotation_id) for u in refused.unmet] == [("leave", "R1", "B04", "WARD")]
    assert refused.unmet[0].reason == "7 days of vacation not granted: locked to WARD, which does not allow leave"
    assert refused.penalties["leave"] == Weights().leave_week


def test_the_load_of_a_rotation_spreads_across_the_blocks() -> None:
    p = problem()
    result = plan_year(p, time_limit=10)
    per_block = Counter(b for (_, b), r in result.plan.items() if r == "ICU")
    assert max(per_block[b] for b in BLOCKS) - min(per_block[b] for b in BLOCKS) <= 1


def test_capacity_below_demand_is_diagnosed_in_words() -> None:
    # five residents each need a block of ICU, ICU takes one a block: six blocks are enough; shrink it to four
    needs = (Requirement(1, "ICU", 1), Requirement(2, "ICU", 1), Requirement(1, "WARD", 0), Requirement(2, "WARD", 0))
    short = problem(blocks=BLOCKS[:4], requirements=needs)
    short.rotations = (
        Rotation("WARD", "inpatient", False),
        Rotation("ICU", "inpatient", False, max_residents=1),
    )
    result = plan_year(short, time_limit=10)
    assert result.status == "infeasible" and result.plan == {}
    messages = [g.message for g in result.diagnosis]
    assert "ICU takes at most 1 resident in each of 4 blocks (4 resident-blocks)" in messages
    assert any("PGY-1" in m and "at least 1 block of ICU (3 resident-blocks)" in m for m in messages)
    assert any("PGY-2" in m and "at least 1 block of ICU (2 resident-blocks)" in m for m in messages)
    assert len(result.diagnosis) == 3  # minimal: dropping any one of the three makes it possible


def test_a_block_override_and_a_locked_row_in_conflict_are_named() -> None:
    p = problem(capacity={("B02", "ICU"): (None, 0)}, locked={("R3", "B02"): "ICU"})
    found = diagnose(p, time_limit=10)
    assert {g.kind for g in found} == {"capacity", "locked"}
    assert {g.message for g in found} == {
        "ICU takes at most 0 residents in block B02 (rotation_capacity.csv)",
        "R3 is locked to ICU in block B02",
    }


def test_hard_leave_with_no_room_is_diagnosed() -> None:
    p = problem(
        rotations=(Rotation("WARD", "inpatient", False), Rotation("ICU", "inpatient", False)),
        requirements=(),
        leave=(Leave("R2", "B01", 14, "parental"),),
    )
    result = plan_year(p, time_limit=10)
    assert result.status == "infeasible"
    assert [g.message for g in result.diagnosis] == [
        "R2 is away 14 days in block B01 (parental) and needs a rotation that allows leave there (none does)"
    ]


def test_the_time_limit_and_the_kill_switch() -> None:
    with pytest.raises(ValueError, match="time limit"):
        plan_year(problem(), time_limit=0)
    stop = threading.Event()
    stop.set()
    result = plan_year(problem(), time_limit=10, stop=stop)
    assert result.status in {"cancelled", "optimal"}  # a tiny year may be solved before the stop is seen


def test_each_wish_not_granted_says_why() -> None:
    roomy = tuple(dataclasses.replace(r, max_residents=3) if r.id == "ICU" else r for r in rotations())
    spec = roomy + (Rotation("ELEC", "elective", True),)
    wishes = (
        Wish("R1", "B01", "ICU", "off", 1),  # R1 is locked to ICU there
        Wish("R2", "B02", "ELEC", "on", 1),  # no PGY-1 requirement names ELEC
        Wish("R2", "B03", "WARD", "on", 1),  # R2 is locked to CLINIC there
        Wish("R3", "B02", "ICU", "on", 5),
        Wish("R3", "B05", "ICU", "on", 1),  # PGY-1 does one block of ICU: the heavier wish gets it
    )
    p = problem(rotations=spec, wishes=wishes, locked={("R1", "B01"): "ICU", ("R2", "B03"): "CLINIC"})
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal" and violations(p, result) == []
    reasons = {(u.person_id, u.block_id): u.reason for u in result.unmet}
    assert reasons == {
        ("R1", "B01"): "the block is locked to ICU",
        ("R2", "B02"): "ELEC is not among the rotations of PGY-1's requirements",
        ("R2", "B03"): "the block is locked to CLINIC",
        ("R3", "B05"): "PGY-1 residents do at most 1 block of ICU, placed in other blocks",
    }
    assert result.plan["R3", "B02"] == "ICU"
    assert all(u.as_dict()["kind"] == "wish" for u in result.unmet)


def test_soft_leave_names_the_full_rotations_that_allow_it() -> None:
    spec = (
        Rotation("WARD", "inpatient", False),
        Rotation("VAC", "leave", True, max_residents=1),
    )
    away = (Leave("R1", "B02", 7, "vacation", soft=True), Leave("R2", "B02", 7, "vacation", soft=True))
    p = problem(rotations=spec, requirements=(), leave=away)
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal" and len(result.unmet) == 1
    assert result.unmet[0].reason.endswith(
        "on WARD, which does not allow leave; full in block B02 of those that allow it: VAC"
    )


def test_a_locked_rotation_outside_the_pgys_is_allowed_in_its_own_block_only() -> None:
    """R1 (PGY-1) is locked to ELEC in B01, which no PGY-1 requirement names, and wishes for ELEC in B03: the
    wish cannot be granted, ELEC stays in B01 alone."""
    spec = rotations() + (Rotation("ELEC", "elective", True),)
    p = problem(rotations=spec, locked={("R1", "B01"): "ELEC"}, wishes=(Wish("R1", "B03", "ELEC", "on", 9),))
    result = plan_year(p, time_limit=10)
    assert result.status == "optimal" and result.plan["R1", "B01"] == "ELEC"
    assert [b for b in BLOCKS if result.plan["R1", b] == "ELEC"] == ["B01"]
    assert [u.reason for u in result.unmet] == ["ELEC is not among the rotations of PGY-1's requirements"]
