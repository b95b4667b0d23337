"""Solving a built model: a time limit always, plain statuses, hints, progress, the kill switch, guards."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from ortools.sat.python import cp_model

from rotaflow.constraints.instance import Demand, Instance, RequestSpec, ShiftSpec
from rotaflow.constraints.model import BuiltModel, build_model
from rotaflow.constraints.ruleset import ConfiguredRule, RuleEntry, RuleSet, configure
from rotaflow.constraints.solve import Progress, SolveResult, solve, solve_from_first
from tests.unit.constraints.ruletools import DAY, NIGHT, configured, instance

EVE = ShiftSpec("EVE", start=dt.time(15), end=dt.time(23))


def small(min_day: int = 1, people: tuple[str, ...] = ("R1", "R2")) -> BuiltModel:
    """Two residents, two days: the day shift of day 0 needs ``min_day`` of them."""
    inst = instance(
        people=people, shifts=(DAY, NIGHT), days=2, demands=(Demand(0, "DAY", frozenset(people), min=min_day),)
    )
    return build_model(inst, configured("coverage"))


def rostering(people: int, days: int) -> tuple[Instance, list[ConfiguredRule]]:
    """Three shifts, runs of working days and days off, soft targets, requests and fairness.

    Four people over a week solve to optimality in a blink through many improving schedules;
    24 people over four weeks keep CP-SAT busy far longer than any test waits.
    """
    rng = random.Random(7)
    ids = [f"R{i:02d}" for i in range(people)]
    shifts = (DAY, EVE, NIGHT)
    demands = tuple(
        Demand(
            d,
            s.id,
            frozenset(ids),
            target=rng.randint(1, people // 3),
            weight_under=rng.randint(1, 5),
            weight_over=rng.randint(0, 3),
        )
        for d in range(days)
        for s in shifts
    )
    requests = tuple(
        RequestSpec(
            rng.choice(ids),
            rng.randrange(days),
            rng.choice([None, "DAY", "EVE", "NIGHT"]),
            rng.choice(["on", "off"]),
            rng.randint(1, 3),
        )
        for _ in range(people * days // 3)
    )
    inst = instance(people=ids, shifts=shifts, days=days, demands=demands, requests=requests)
    rules = configure(
        RuleSet(
            name="rostering",
            rules=[
                RuleEntry(rule="one_shift_per_day"),
                RuleEntry(rule="consecutive_working_days", params={"default_max": 5, "default_min": 2}),
                RuleEntry(rule="consecutive_days_off", params={"default_min": 2}),
                RuleEntry(rule="coverage_target"),
                RuleEntry(rule="shift_requests"),
                RuleEntry(rule="fairness"),
            ],
        )
    )
    return inst, rules


def large() -> tuple[Instance, list[ConfiguredRule]]:
    return rostering(24, 28)


# ---------------------------------------------------------------------- time limit and statuses


@pytest.mark.parametrize(
    "time_limit",
    [
        0,
        -1.0,
        None,
        pytest.param(float("nan")),
    ],
)
def test_a_solve_needs_a_positive_time_limit(time_limit: float | None) -> None:
    with pytest.raises(ValueError, match="a positive time limit is required"):
        solve(small(), time_limit=time_limit)  # type: ignore[arg-type]


def test_a_feasible_model_is_solved_to_optimality() -> None:
    result = solve(small(min_day=2), time_limit=5, workers=1)
    assert (result.status, result.objective, result.penalties, result.gap) == ("optimal", 0, {}, 0.0)
    assert {("R1", 0, "DAY"), ("R2", 0, "DAY")} <= result.cells
    assert result.seconds < 5


def test_an_impossible_model_is_reported_infeasible_without_a_schedule() -> None:
    result = solve(small(min_day=3), time_limit=5, workers=1)
    assert (result.status, result.objective, result.best_bound, result.cells) == ("infeasible", None, None, frozenset())
    assert result.gap is None


def test_an_invalid_model_is_reported_as_such() -> None:
    built = small()
    built.model.new_int_var(5, 0, "empty_domain")
    assert solve(built, time_limit=5).status == "invalid_model"


def test_running_out_of_time_before_any_schedule_is_a_timeout() -> None:
    inst, rules = large()
    result = solve(build_model(inst, rules), time_limit=1e-9)
    assert (result.status, result.objective, result.cells) == ("timeout", None, frozenset())


def test_running_out_of_time_with_a_schedule_in_hand_is_feasible() -> None:
    inst, rules = large()
    built = build_model(inst, rules)
    # a busy machine may not reach a first schedule in the shortest limit: the first limit that ends
    # with one in hand counts (none of these proves this block optimal)
    for limit in (0.5, 2.0, 8.0):
        result = solve(built, time_limit=limit, hint=[])  # nobody working is a valid start
        if result.status != "timeout":
            break
    assert result.status == "feasible"
    assert result.objective is not None and result.best_bound is not None
    assert result.gap is not None and 0 < result.gap <= 1
    assert sum(result.penalties.values()) == result.objective


# ---------------------------------------------------------------------- hints


def test_a_hint_is_set_on_every_cell_and_replaces_an_earlier_hint() -> None:
    built = small()
    solve(built, time_limit=5, workers=1, hint=[("R2", 1, "NIGHT")])
    result = solve(built, time_limit=5, workers=1, hint=[("R1", 0, "DAY"), ("R2", 1, "NIGHT")])
    hints = built.model.proto.solution_hint
    assert len(hints.vars) == len(built.instance.cells)
    hinted = {cell for cell, var in built.x.items() if dict(zip(hints.vars, hints.values, strict=True))[var.index]}
    assert hinted == {("R1", 0, "DAY"), ("R2", 1, "NIGHT")}
    assert result.status == "optimal"


def test_a_hinted_schedule_that_is_already_optimal_is_kept() -> None:
    inst = instance(
        people=("R1", "R2"),
        shifts=(DAY,),
        days=2,
        demands=(Demand(0, "DAY", frozenset({"R1", "R2"}), target=1, weight_over=1),),
        requests=(RequestSpec("R2", 0, "DAY", "on", 2),),
    )
    built = build_model(
        inst, configure(RuleSet(name="t", rules=[RuleEntry(rule="coverage_target"), RuleEntry(rule="shift_requests")]))
    )
    result = solve(built, time_limit=5, workers=1, hint=[("R2", 0, "DAY")])
    assert (result.status, result.objective, result.cells) == ("optimal", 0, frozenset({("R2", 0, "DAY")}))


# ---------------------------------------------------------------------- progress and the kill switch


def test_progress_is_reported_for_each_improving_schedule() -> None:
    inst, rules = rostering(4, 7)
    seen: list[Progress] = []
    result = solve(build_model(inst, rules), time_limit=5, workers=1, hint=[], on_progress=seen.append)
    assert result.status == "optimal"
    assert len(seen) > 1 and seen == result.progress
    objectives = [p.objective for p in seen]
    assert objectives == sorted(objectives, reverse=True) and objectives[-1] < objectives[0]
    assert objectives[-1] == result.objective
    assert [p.seconds for p in seen] == sorted(p.seconds for p in seen)
    assert all(p.bound <= p.objective for p in seen)


def _stopped_after(delay: float, run: Callable[[threading.Event], SolveResult]) -> tuple[SolveResult, float]:
    """``run(stop)`` with ``stop`` set after ``delay`` seconds: its result and the seconds it took."""
    stop = threading.Event()
    timer = threading.Timer(delay, stop.set)
    started = time.monotonic()
    timer.start()
    try:
        result = run(stop)
    finally:
        timer.cancel()
    return result, time.monotonic() - started


def test_the_kill_switch_stops_a_long_solve_within_moments() -> None:
    built = build_model(*large())
    result, seconds = _stopped_after(0.5, lambda stop: solve(built, time_limit=30, stop=stop))
    assert seconds < 2.5
    assert result.status == "cancelled"
    assert result.seconds < 2.5


def test_a_kill_switch_set_before_the_start_cancels_at_once() -> None:
    built = build_model(*large())
    stop = threading.Event()
    stop.set()
    result: SolveResult = solve(built, time_limit=2, stop=stop)
    assert result.status == "cancelled"
    assert result.seconds < 1.5


def test_the_kill_switch_watcher_ends_with_the_solve() -> None:
    solve(small(), time_limit=5, stop=threading.Event())
    assert "cp-sat-kill-switch" not in {t.name for t in threading.enumerate()}


# ---------------------------------------------------------------------- guards


def test_unenforced_guards_are_named_after_their_rule_and_subject() -> None:
    inst = instance(
        people=("R1", "R2"),
        shifts=(DAY,),
        days=2,
        demands=(Demand(0, "DAY", frozenset({"R1", "R2"}), min=2),),
        pins={("R1", 0, "DAY"): False},
    )
    built = build_model(inst, configured("coverage"), enforce=False)
    assert sorted(built.guards) == [
        "coverage(shift=DAY, date=2027-07-05)",
        "pinned(person=R1, date=2027-07-05, shift=DAY)",
    ]
    guard = built.guards["coverage(shift=DAY, date=2027-07-05)"]
    assert (guard.rule, guard.subject, guard.name) == (
        "coverage",
        "shift=DAY, date=2027-07-05",
        "coverage(shift=DAY, date=2027-07-05)",
    )
    assert {k: guard.detail[k] for k in ("day", "shift", "people", "row")} == {
        "day": 0,
        "shift": "DAY",
        "people": 2,
        "row": "",
    }
    assert built.guards["pinned(person=R1, date=2027-07-05, shift=DAY)"].detail == {"person": "R1", "day": 0}
    assert solve(built, time_limit=5, workers=1).status == "optimal"  # nothing binds until enforced
    built.enforce_all()
    assert solve(built, time_limit=5, workers=1).status == "infeasible"


def test_assuming_the_guards_explains_an_infeasibility_in_their_names() -> None:
    inst = instance(
        people=("R1", "R2"),
        shifts=(DAY,),
        days=2,
        demands=(Demand(0, "DAY", frozenset({"R1", "R2"}), min=2),),
        pins={("R1", 0, "DAY"): False, ("R2", 1, "DAY"): True},
    )
    built = build_model(inst, configured("coverage"), enforce=False)
    by_index = {g.literal.index: name for name, g in built.guards.items()}
    built.model.add_assumptions([g.literal for g in built.guards.values()])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(built.model) == cp_model.INFEASIBLE
    core = {by_index[i] for i in solver.sufficient_assumptions_for_infeasibility()}
    assert core == {"coverage(shift=DAY, date=2027-07-05)", "pinned(person=R1, date=2027-07-05, shift=DAY)"}


# ---------------------------------------------------------------------- a first schedule, then the whole presolve


def test_the_first_schedule_is_handed_on_and_improved_to_optimality() -> None:
    inst, rules = rostering(4, 7)
    seen: list[Progress] = []
    result = solve_from_first(build_model(inst, rules), time_limit=10, workers=1, hint=[], on_progress=seen.append)
    assert result.status == "optimal" and result.gap == 0.0
    # the first step stops at its first schedule (nobody working, the hint); the second improves on it
    assert len(seen) > 1 and seen == result.progress
    objectives = [p.objective for p in seen]
    assert objectives == sorted(set(objectives), reverse=True) and objectives[-1] == result.objective
    assert [p.seconds for p in seen] == sorted(p.seconds for p in seen) and seen[-1].seconds <= result.seconds
    assert sum(result.penalties.values()) == result.objective
    # the same optimum as one plain solve
    assert result.objective == solve(build_model(inst, rules), time_limit=10, workers=1).objective


def test_a_first_step_that_ends_with_a_proof_or_without_a_schedule_is_the_answer() -> None:
    infeasible = solve_from_first(small(min_day=3), time_limit=5, workers=1)
    assert (infeasible.status, infeasible.cells) == ("infeasible", frozenset())
    optimal = solve_from_first(small(min_day=2), time_limit=5, workers=1)
    assert (optimal.status, optimal.objective) == ("optimal", 0)
    timeout = solve_from_first(build_model(*large()), time_limit=1e-9)
    assert (timeout.status, timeout.cells) == ("timeout", frozenset())


def test_the_answer_is_never_worse_than_the_first_schedule_when_time_runs_out() -> None:
    inst, rules = large()
    built = build_model(inst, rules)
    seen: list[Progress] = []
    result = solve_from_first(built, time_limit=1.5, hint=[], on_progress=seen.append)
    assert result.status == "feasible" and result.cells  # the hint is a schedule: one is in hand at once
    assert result.objective is not None and result.objective <= seen[0].objective
    assert result.objective == seen[-1].objective == sum(result.penalties.values())
    assert result.best_bound is not None and result.best_bound <= result.objective
    assert result.seconds < 1.5 + 1.0


def test_the_kill_switch_stops_the_second_step_within_moments() -> None:
    built = build_model(*large())
    result, seconds = _stopped_after(1.0, lambda stop: solve_from_first(built, time_limit=30, hint=[], stop=stop))
    assert seconds < 3.0
    assert result.status == "cancelled"


@pytest.mark.parametrize(("workers", "threads"), [(2, [2, 3]), (4, [4, 5]), (1, [1, 1])])
def test_the_whole_model_step_runs_one_more_thread_for_the_core_based_search(
    monkeypatch: pytest.MonkeyPatch, workers: int, threads: list[int]
) -> None:
    """Two threads give CP-SAT's LP-based tree search and the neighbourhoods; the whole-model step asks for a
    third, the core-based search that proves a small block's optimum (one thread asked for stays one)."""
    import rotaflow.constraints.solve as module

    asked: list[int] = []
    real = module.solve

    def recording(built: Any, **kwargs: Any) -> SolveResult:
        asked.append(kwargs["workers"])
        return real(built, **kwargs)

    monkeypatch.setattr(module, "solve", recording)
    inst, rules = rostering(4, 7)
    result = solve_from_first(build_model(inst, rules), time_limit=10, workers=workers, hint=[])
    assert asked == threads and result.status == "optimal"
