"""Repairing a published block: frozen days, the fewest changes proved, then the usual objective."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from typing import Any

import pytest

from rotaflow.constraints.explain import diagnose
from rotaflow.constraints.instance import Cell, Demand, Instance, RequestSpec
from rotaflow.constraints.model import build_model
from rotaflow.constraints.repair import changes_expression, count_changes, forced_removals, repair_solve
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import solve
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, instance, violations
from tests.unit.constraints.test_preflight import tiny_ok

PEOPLE = ("R1", "R2", "R3")
ROTA = {0: "R2", 1: "R2", 2: "R3", 3: "R1", 4: "R1", 5: "R2", 6: "R3"}
"""The published week: one resident on the day shift each day; R1 works days 3 and 4."""


def hard(*names: str) -> list[ConfiguredRule]:
    return [rule for name in names for rule in configured(name, kind="hard")]


def week(**kwargs: Any) -> Instance:
    """Three residents, seven days, exactly one of them on DAY each day, ``ROTA`` published."""
    inst = instance(
        people=PEOPLE,
        shifts=(DAY,),
        days=7,
        demands=tuple(Demand(d, "DAY", frozenset(PEOPLE), min=1, max=1) for d in range(7)),
        previous=frozenset((p, d, "DAY") for d, p in ROTA.items()),
        **kwargs,
    )
    return inst


RULES = hard("coverage", "blocking_absence")


def test_r1_falling_out_on_days_3_and_4_costs_four_changes_proved() -> None:
    # R1 loses days 3 and 4 (2 changes); each day needs exactly one, so two others gain them (2 more)
    inst = week(blocked_days={"R1": frozenset({3, 4})}, frozen_days=2)
    assert forced_removals(inst) == {("R1", 3, "DAY"), ("R1", 4, "DAY")}
    repaired = repair_solve(inst, RULES, time_limit=5, workers=1)
    assert repaired.status == "optimal"
    assert (repaired.changes, repaired.min_changes_bound, repaired.proved_minimal) == (4, 4, True)
    cells = repaired.result.cells
    assert count_changes(inst, cells) == 4
    assert {c for c in cells if c[1] < 2} == {("R2", 0, "DAY"), ("R2", 1, "DAY")}
    assert {c for c in cells if c[1] in (3, 4)} <= {(p, d, "DAY") for p in ("R2", "R3") for d in (3, 4)}
    assert {c for c in cells if c[1] >= 5} == {("R2", 5, "DAY"), ("R3", 6, "DAY")}
    assert not violations(inst, RULES, cells)
    assert 0 < repaired.build_seconds <= repaired.result.seconds


def test_the_usual_objective_picks_among_the_fewest_changes_and_never_adds_any() -> None:
    # R3 asks for day 3 (a free choice between R2 and R3) and for day 5, which R2 holds: granting
    # day 5 too would cost 2 more changes, so only the day-3 request is granted
    requests = (RequestSpec("R3", 3, "DAY", "on", 5), RequestSpec("R3", 5, "DAY", "on", 10))
    inst = week(blocked_days={"R1": frozenset({3, 4})}, frozen_days=2, requests=requests)
    rules = RULES + configured("shift_requests")
    repaired = repair_solve(inst, rules, time_limit=5, workers=1)
    assert repaired.status == "optimal"
    assert (repaired.changes, repaired.min_changes_bound, repaired.proved_minimal) == (4, 4, True)
    assert ("R3", 3, "DAY") in repaired.result.cells and ("R2", 5, "DAY") in repaired.result.cells
    assert repaired.result.objective == 10 == repaired.result.penalties["shift_requests"]
    # the usual objective alone would grant both (changing more than the minimum)
    usual = solve(build_model(inst, rules), time_limit=5, workers=1)
    assert usual.objective == 0 and count_changes(inst, usual.cells) > 4


def test_frozen_days_hold_exactly_as_published() -> None:
    # R1 asks off every day: the usual objective moves R1's days 3 and 4, and only the frozen ones stay
    off = tuple(RequestSpec("R1", d, None, "off", 5) for d in range(7))
    rules = RULES + configured("shift_requests")
    previous = frozenset(("R1", d, "DAY") for d in range(7))
    free = instance(people=PEOPLE, days=7, previous=previous, requests=off)
    assert not {c for c in solve(build_model(free, rules), time_limit=5, workers=1).cells if c[0] == "R1"}
    inst = instance(people=PEOPLE, days=7, previous=previous, requests=off, frozen_days=4)
    built = build_model(inst, rules)
    assert sorted(g for g in built.guards if g.startswith("frozen")) == [
        f"frozen(date=2027-07-0{5 + d})" for d in range(4)
    ]
    result = solve(built, time_limit=5, workers=1)
    assert {c for c in result.cells if c[1] < 4} == {c for c in previous if c[1] < 4}
    assert not {c for c in result.cells if c[1] >= 4}
    assert result.objective == 20


def test_frozen_days_beyond_the_horizon_freeze_the_whole_block() -> None:
    inst = week(frozen_days=30, blocked_days={"R1": frozenset({3})})
    assert forced_removals(inst) == frozenset()  # nothing left to repair: every day is frozen
    assert changes_expression(build_model(inst, RULES))[1] == 0
    assert len([g for g in build_model(inst, RULES).guards if g.startswith("frozen(")]) == 7
    repaired = repair_solve(inst, hard("coverage"), time_limit=5, workers=1)
    assert repaired.result.cells == inst.previous
    assert (repaired.status, repaired.changes, repaired.proved_minimal) == ("optimal", 0, True)


def test_changes_expression_counts_each_gained_or_lost_assignment() -> None:
    inst = week(frozen_days=2)
    built = build_model(inst, [], enforce=False)  # nothing binds: any schedule can be read
    expression, constant = changes_expression(built)
    assert constant == 5  # the published days 2..6
    moved = (inst.previous - {("R3", 6, "DAY")}) | {("R1", 6, "DAY"), ("R2", 2, "DAY"), ("R3", 0, "DAY")}
    built.model.minimize(expression + constant)
    read = solve(built, time_limit=5, workers=1, fixed={c: c in moved for c in inst.cells})
    assert read.objective == count_changes(inst, frozenset(moved)) == 3  # day 0 is frozen: not counted


def test_forced_removals_also_names_shifts_the_rotation_no_longer_allows() -> None:
    allowed = {(p, d): frozenset({"DAY"}) for p in PEOPLE for d in range(7)}
    allowed[("R3", 6)] = frozenset()
    inst = week(allowed=allowed, blocked_days={"R2": frozenset({0, 5})}, frozen_days=1)
    assert forced_removals(inst) == {("R3", 6, "DAY"), ("R2", 5, "DAY")}  # day 0 is frozen


def test_an_absence_on_a_frozen_day_worked_is_infeasible_and_diagnosed() -> None:
    inst = week(blocked_days={"R2": frozenset({1})}, frozen_days=2)
    repaired = repair_solve(inst, RULES, time_limit=5, workers=1)
    assert repaired.status == "infeasible"
    assert (repaired.changes, repaired.min_changes_bound, repaired.proved_minimal) == (None, None, False)
    assert repaired.result.cells == frozenset()
    conflicts = diagnose(inst, RULES, time_limit=10)
    assert {f"{c.rule}({c.subject})" for c in conflicts} == {
        "frozen(date=2027-07-06)",
        "blocking_absence(person=R2, from=2027-07-06, to=2027-07-06)",
    }
    frozen = next(c for c in conflicts if c.rule == "frozen")
    assert frozen.message == "a day before the repair date, kept exactly as published: date=2027-07-06"
    assert (frozen.people, frozen.dates) == ((), ("2027-07-06",))


def test_nobody_left_to_cover_is_infeasible_and_the_coverage_is_named() -> None:
    inst = week(blocked_days={p: frozenset({4}) for p in PEOPLE}, frozen_days=2)
    assert repair_solve(inst, RULES, time_limit=5, workers=1).status == "infeasible"
    conflicts = diagnose(inst, RULES, time_limit=10)
    assert "coverage(shift=DAY, date=2027-07-09)" in {f"{c.rule}({c.subject})" for c in conflicts}
    assert not any(c.rule == "frozen" for c in conflicts)


def test_a_stop_set_before_cancels() -> None:
    stop = threading.Event()
    stop.set()
    repaired = repair_solve(week(frozen_days=2), RULES, time_limit=5, stop=stop)
    assert repaired.status == "cancelled"
    assert repaired.changes is None and not repaired.proved_minimal


def test_a_stop_after_the_first_schedule_keeps_it_and_cancels() -> None:
    stop = threading.Event()
    inst = week(blocked_days={"R1": frozenset({3, 4})}, frozen_days=2)
    repaired = repair_solve(inst, RULES, time_limit=5, workers=1, stop=stop, on_progress=lambda _: stop.set())
    assert repaired.status in {"cancelled", "optimal"}  # a tiny search may prove its optimum before it stops
    assert repaired.changes == count_changes(inst, repaired.result.cells) >= 4
    assert not violations(inst, RULES, repaired.result.cells)


def test_a_positive_time_limit_is_required() -> None:
    with pytest.raises(ValueError, match="positive time limit"):
        repair_solve(week(), RULES, time_limit=0)


def test_progress_is_heard_as_changes_and_the_fewest_proved() -> None:
    heard: list[tuple[float, float]] = []
    requests = (RequestSpec("R3", 3, "DAY", "on", 5),)
    inst = week(blocked_days={"R1": frozenset({3, 4})}, frozen_days=2, requests=requests)
    repaired = repair_solve(
        inst,
        RULES + configured("shift_requests"),
        time_limit=5,
        workers=1,
        on_progress=lambda p: heard.append((p.objective, p.bound)),
    )
    assert heard and all(changes >= bound >= 0 for changes, bound in heard)
    assert heard[-1][0] == repaired.changes == 4  # the objective heard is the changes, not the weighted sum
    assert repaired.result.progress[-1].objective == 4
    assert repaired.result.objective == 0 == repaired.result.best_bound  # the request is granted


# --------------------------------------------------------------------------- the minimum by brute force

SUCCESSIONS = [
    *configured("forbidden_successions", kind="hard", params={"pairs": [["NIGHT", "DAY"]]}),
    *hard("coverage", "blocking_absence", "one_shift_per_day"),
]


def random_repair(rng: random.Random) -> Instance:
    """Three residents, four days, DAY and NIGHT, a random feasible published schedule, a new absence."""
    days = 4
    demands = tuple(
        Demand(d, s, frozenset(PEOPLE), min=rng.randint(0, 1), max=rng.choice([1, 2]))
        for d in range(days)
        for s in ("DAY", "NIGHT")
    )
    inst = instance(people=PEOPLE, shifts=(DAY, NIGHT), days=days, demands=demands, frozen_days=1)
    while True:
        published = frozenset(c for c in inst.cells if rng.random() < 0.35)
        if not [v for v in violations(inst, SUCCESSIONS, published) if v.severity == "violation"]:
            break
    inst.previous = published
    person = rng.choice(PEOPLE)
    first = rng.randint(1, days - 1)
    inst.blocked_days = {person: frozenset(range(first, rng.randint(first, days - 1) + 1))}
    return inst


LIMIT = 4
"""The brute force tries flipping up to this many cells."""


def brute_minimum(inst: Instance) -> int | None:
    """The fewest cells after the frozen day to flip for a schedule every hard checker accepts."""
    free: list[Cell] = [c for c in inst.cells if c[1] >= inst.frozen_days]
    for k in range(len(free) + 1):
        for flips in itertools.combinations(free, k):
            cells = inst.previous ^ frozenset(flips)
            if not [v for v in violations(inst, SUCCESSIONS, cells) if v.severity == "violation"]:
                return k
        if k >= LIMIT:
            return None  # no tiny repair exists: the solver must say infeasible or find more
    return None


@pytest.mark.parametrize("seed", range(8))
def test_the_minimum_agrees_with_a_brute_force(seed: int) -> None:
    inst = random_repair(random.Random(seed))
    expected = brute_minimum(inst)
    repaired = repair_solve(inst, SUCCESSIONS, time_limit=5, workers=1)
    if expected is None:
        assert repaired.status == "infeasible" or (repaired.min_changes_bound or 0) > LIMIT
        return
    assert repaired.status == "optimal"
    assert (repaired.changes, repaired.min_changes_bound, repaired.proved_minimal) == (expected, expected, True)
    assert forced_removals(inst) <= inst.previous - repaired.result.cells


def test_block_instance_freezes_the_days_before_the_repair_date() -> None:
    bundle = parse_bundle(tiny_ok())
    plain = block_instance(bundle, "B1")
    assert plain.frozen_days == 0
    start = plain.start
    assert block_instance(bundle, "B1", frozen_before=start + dt.timedelta(days=3)).frozen_days == 3
    assert block_instance(bundle, "B1", frozen_before=start - dt.timedelta(days=3)).frozen_days == 0
    late = block_instance(bundle, "B1", frozen_before=start + dt.timedelta(days=400))
    assert late.frozen_days == plain.days
