"""The repair's churn guard at its thresholds, on hand-made instances (no solving: the repaired cells are given)."""

from __future__ import annotations

import datetime as dt

from rotaflow.constraints.instance import Cell, Instance
from rotaflow.services.repair import Churn, ChurnLimits, churn
from tests.unit.constraints.ruletools import instance

PEOPLE = ("A", "B", "C", "D", "E")
DAYS = 10
LOOSE = 1.0
"""A limit no repair is over: isolates the other one."""


def published(**kwargs: object) -> Instance:
    """Five people on the day shift every day for ten days: 50 published assignments, 10 each; F, a sixth,
    works none of them (the cover)."""
    cells = frozenset((p, d, "DAY") for p in PEOPLE for d in range(DAYS))
    return instance(people=(*PEOPLE, "F"), days=DAYS, previous=cells, **kwargs)  # type: ignore[arg-type]


def without(inst: Instance, taken: set[Cell], added: set[Cell] | None = None) -> frozenset[Cell]:
    """The published schedule with ``taken`` removed and ``added`` added: a repair's result."""
    return frozenset((inst.previous - taken) | (added or set()))


def spread(count: int) -> set[Cell]:
    """``count`` published cells taken from five people in turn (two at most from anyone for count <= 10)."""
    return {(PEOPLE[i % 5], i // 5, "DAY") for i in range(count)}


def test_exactly_the_total_share_is_allowed_and_one_more_change_is_refused() -> None:
    inst = published()
    limits = ChurnLimits(total_share=0.2, person_share=LOOSE)
    at = churn(inst, without(inst, spread(10)), limits)  # 10 of 50: exactly 20 %
    assert (at.remaining, at.changed, at.forced, at.share) == (50, 10, 0, 0.2)
    assert not at.refused and at.reasons() == [] and at.as_dict()["refused"] is False
    over = churn(inst, without(inst, spread(11)), limits)  # 11 of 50: 22 %
    assert over.refused and over.share == 0.22
    assert over.reasons() == ["11 of the 50 remaining assignments would change (22%, more than 20%)"]
    assert over.as_dict()["refused"] is True and over.as_dict()["share"] == 0.22


def test_one_persons_share_at_the_limit_is_allowed_and_above_it_refused() -> None:
    inst = published()
    limits = ChurnLimits(total_share=LOOSE, person_share=0.5)
    half = {("A", d, "DAY") for d in range(5)}  # 5 of A's 10
    at = churn(inst, without(inst, half), limits)
    assert (at.changed, at.people, at.refused) == (5, [], False)
    over = churn(inst, without(inst, half | {("A", 5, "DAY")}), limits)  # 6 of A's 10
    assert over.refused and over.share == 6 / 50 < LOOSE
    assert over.people == [{"person_id": "A", "remaining": 10, "changed": 6, "share": 0.6}]
    assert over.reasons() == ["6 of the 10 remaining shift(s) of A would change (60%, more than 50%)"]


def test_a_shift_moved_to_another_day_or_person_is_churn_and_the_cover_is_only_added() -> None:
    inst = instance(people=PEOPLE, days=DAYS, previous=frozenset({("A", 0, "DAY"), ("A", 1, "DAY")}))
    moved = churn(inst, frozenset({("A", 0, "DAY"), ("B", 1, "DAY")}), ChurnLimits(0.2, 0.5))
    assert (moved.remaining, moved.changed, moved.added, moved.forced) == (2, 1, 1, 0)
    assert moved.refused and moved.people == []  # A's 1 of 2 is at the person limit, not over it
    assert moved.reasons() == ["1 of the 2 remaining assignments would change (50%, more than 20%)"]


def test_what_an_absence_forces_and_the_frozen_past_do_not_count() -> None:
    # A is absent on days 4..9: those six shifts must go (forced); days 0..1 are frozen as published
    inst = published(blocked_days={"A": frozenset(range(4, DAYS))}, frozen_days=2)
    forced = {("A", d, "DAY") for d in range(4, DAYS)}
    cover = {("F", d, "DAY") for d in range(4, DAYS)}
    limits = ChurnLimits(total_share=0.2, person_share=0.5)
    guard = churn(inst, without(inst, forced, cover), limits)
    # 5 people x 8 days from the repair date on, less A's six forced: 34 remaining, none changed
    assert (guard.remaining, guard.forced, guard.changed, guard.added) == (34, 6, 0, 6)
    assert not guard.refused and guard.people == []
    # A's two remaining shifts (days 2, 3): taking one more is A's churn, 1 of 2 (50 %: allowed), both refused
    one = churn(inst, without(inst, forced | {("A", 2, "DAY")}), limits)
    assert (one.remaining, one.changed, one.refused) == (34, 1, False)
    both = churn(inst, without(inst, forced | {("A", 2, "DAY"), ("A", 3, "DAY")}), limits)
    assert both.refused and both.people == [{"person_id": "A", "remaining": 2, "changed": 2, "share": 1.0}]
    # a change on a frozen day (which a repair cannot make) is outside the guard's count
    frozen = churn(inst, without(inst, forced | {("B", 0, "DAY")}), limits)
    assert (frozen.remaining, frozen.changed) == (34, 0)


def test_nothing_remaining_is_no_churn() -> None:
    inst = published(blocked_days={p: frozenset(range(DAYS)) for p in PEOPLE})
    guard = churn(inst, frozenset(), ChurnLimits())
    assert isinstance(guard, Churn) and (guard.remaining, guard.forced, guard.share, guard.refused) == (
        0,
        50,
        0.0,
        False,
    )


def test_shifts_a_person_gains_count_against_their_share_and_a_move_counts_once() -> None:
    # A keeps days 0..3 and 8..9 after losing days 4..7 to an absence (forced): 6 remaining; B gains
    inst = published(blocked_days={"A": frozenset(range(4, 8))})
    forced = {("A", d, "DAY") for d in range(4, 8)}
    limits = ChurnLimits(total_share=LOOSE, person_share=0.5)
    # F had nothing: taking all four is not a share of anything (the work-hour rules hold them)
    covered = churn(inst, without(inst, forced, {("F", d, "DAY") for d in range(4, 8)}), limits)
    assert covered.people == [] and covered.added == 4
    # B, with 10 remaining, moves one shift (loses day 0's DAY, gains its NIGHT): one change, 10 %
    moved = churn(inst, without(inst, forced | {("B", 0, "DAY")}, {("B", 0, "NIGHT")}), limits)
    assert moved.people == [] and moved.changed == 1
    # C gains six NIGHTs on top of their ten: 6 of 10, over the limit
    piled = churn(inst, without(inst, forced, {("C", d, "NIGHT") for d in range(6)}), limits)
    assert piled.refused and piled.people == [{"person_id": "C", "remaining": 10, "changed": 6, "share": 0.6}]


def test_a_repair_approved_after_its_first_day_has_passed_may_not_be_published() -> None:
    from rotaflow.services.repair import started_too_late

    inst = published()
    inst.meta["repair_from"] = "2027-07-10"
    assert started_too_late(inst, today=dt.date(2027, 7, 9)) is None
    assert started_too_late(inst, today=dt.date(2027, 7, 10)) is None  # its first day is today: still ahead
    late = started_too_late(inst, today=dt.date(2027, 7, 11))
    assert late is not None and "from 2027-07-10" in late and "today is 2027-07-11" in late
    assert started_too_late(published(), today=dt.date(2030, 1, 1)) is None  # not a repair
