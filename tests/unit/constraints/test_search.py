"""The large neighbourhood search, on Curtois benchmark instances: neighbourhood shapes, kind selection, reproducibility."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from ortools.sat.python import cp_model

from rotaflow.constraints.benchmark import curtois_problem, roster_of, solve_curtois
from rotaflow.constraints.curtois import evaluate, load_curtois
from rotaflow.constraints.model import BuiltModel, build_model
from rotaflow.constraints.search import (
    ALL_KINDS,
    LAG,
    POLL,
    QUICK_RESIZE,
    RESIZE,
    START_CELLS,
    _Companion,
    _heaviest,
    _hinted,
    _Run,
    _Search,
    _search_on,
    _solve_whole,
    _stall_wait,
    _value,
    neighbourhood_search,
)

SHARED = Path(__file__).resolve().parents[2] / "fixtures" / "curtois"
"""Instances 1, 2 and 5 of the benchmark, vendored so these tests run in any checkout."""


@pytest.fixture(scope="module")
def instance2() -> tuple[BuiltModel, _Run]:
    instance, rules = curtois_problem(load_curtois(SHARED / "Instance2.txt"))
    built = build_model(instance, rules)
    start = _solve_whole(built, 10, 2, 0, switch=0.0)  # the first schedule found
    assert start.solution is not None and start.status in ("feasible", "optimal")
    return built, start


def _search(instance2: tuple[BuiltModel, _Run], kinds: tuple[str, ...] = ALL_KINDS, seed: int = 0) -> _Search:
    built, start = instance2
    return _Search(built, start, kinds, seed, {"linearization_level": 2}, time.monotonic())


def _shape(search: _Search, free: list[int]) -> tuple[set[int], list[int], set[tuple[int, int]]]:
    """The people, the sorted days and the (person, day) pairs a neighbourhood frees."""
    people = {search.person_at[search.cells[p][0]] for p in free}
    days = sorted({search.cells[p][1] for p in free})
    pairs = {(search.person_at[search.cells[p][0]], search.cells[p][1]) for p in free}
    return people, days, pairs


def test_every_kind_frees_whole_person_days_in_its_shape(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2)
    shifts = len(search.instance.shift_ids)
    everyone, horizon = len(search.people), search.instance.days
    rng = random.Random(1)
    for kind in ALL_KINDS:
        for size in (0.05, 0.3, 1.0):
            free = search.neighbourhood(kind, size, search.best, rng)
            assert len(free) == len(set(free)) > 0, kind
            people, days, pairs = _shape(search, free)
            assert len(free) == len(pairs) * shifts, f"{kind}: a person-day is freed whole or not at all"
            assert pairs == {(n, d) for n in people for d in days}, f"{kind}: people × days"
            if kind in ("days", "focus"):
                assert len(people) == everyone and days == list(range(days[0], days[-1] + 1))
            elif kind in ("people", "helpers"):
                assert days == list(range(horizon))
            elif kind in ("block", "patch"):
                assert days == list(range(days[0], days[-1] + 1))
            else:  # weekly, rota: the same weekdays of every week
                weekdays = {d % 7 for d in days}
                assert days == [d for d in range(horizon) if d % 7 in weekdays]
                if kind == "weekly":
                    assert len(people) == everyone


def test_sizes_scale_the_neighbourhoods(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2)
    for kind in ("days", "people", "block"):
        small = sum(len(search.neighbourhood(kind, 0.1, search.best, random.Random(n))) for n in range(20))
        large = sum(len(search.neighbourhood(kind, 0.5, search.best, random.Random(n))) for n in range(20))
        assert small < large, kind


def test_helpers_are_people_off_on_a_day_short_of_cover(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2)
    best = search.best
    solution, var = best.solution, search.var
    _, cover_cost, _ = search.costs(best)
    day = max(range(search.instance.days), key=lambda d: cover_cost[d])
    off = {n for n in range(len(search.people)) if not any(solution[var[p]] for p in search.groups[n][day])}
    chosen = search._helpers(best, day, min(3, len(off)), random.Random(0))
    assert len(chosen) == len(set(chosen)) == min(3, len(off))
    assert set(chosen) <= off
    # more people than are off: the rest are drawn from everyone else
    everyone = search._helpers(best, day, len(search.people), random.Random(0))
    assert sorted(everyone) == list(range(len(search.people)))


def test_costs_add_up_to_the_objective(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2)
    day_cost, cover_cost, person_cost = search.costs(search.best)
    assert sum(day_cost) == search.best.objective
    assert sum(day_cost) == pytest.approx(sum(cover_cost) + sum(person_cost))


def test_the_bandit_tries_every_kind_then_favours_the_ones_that_gain(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2, kinds=("days", "people", "block"))
    rng = random.Random(0)
    first = []
    for _ in range(3):
        kind = search.choose(rng)
        first.append(kind)
        search.rate[kind] = 0.0
    assert first == ["days", "people", "block"]
    search.rate.update({"days": 10.0, "people": 0.0, "block": 1.0})
    counts = Counter(search.choose(rng) for _ in range(2000))
    assert counts["days"] > 5 * counts["block"] > 0
    assert 0 < counts["people"] < counts["block"]  # only by exploration
    search.select = "uniform"
    counts = Counter(search.choose(rng) for _ in range(3000))
    assert min(counts.values()) > 800


def test_a_kind_whose_steps_are_quick_grows_faster_than_one_whose_steps_take_their_time(
    instance2: tuple[BuiltModel, _Run],
) -> None:
    search = _search(instance2, kinds=("people",))
    search.run(0, 0.0, 1.0, effort=0.3)  # one person of fourteen at first: each step proved optimal at once
    assert search.stats["people"].finished >= 3
    assert search.size["people"] >= min(1.0, 0.1 * QUICK_RESIZE**3) / RESIZE > 0.1 * RESIZE**search.steps
    slow = _search(instance2, kinds=("people",))
    slow.run(0, 0.0, 0.002, effort=0.3)  # steps whose limit is so short that none is quick beside it
    assert slow.steps >= 3
    assert slow.size["people"] <= 0.1 * RESIZE**slow.steps


def test_kinds_start_at_a_tenth_or_at_about_start_cells_on_a_large_model(
    instance2: tuple[BuiltModel, _Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rotaflow.constraints.search as search_module

    built, _ = instance2
    cells = len(built.x.indices())
    assert cells < 10 * START_CELLS  # a small model: a tenth, as always
    assert set(_search(instance2).size.values()) == {0.1}
    monkeypatch.setattr(search_module, "START_CELLS", cells / 40)  # as if the model were four times as large
    search = _search(instance2)
    assert list(search.size.values()) == pytest.approx([1 / 40] * len(ALL_KINDS))


def test_a_search_by_effort_is_reproducible_and_feasible(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    ci = load_curtois(SHARED / "Instance2.txt")
    outcomes = []
    for _ in range(2):
        search = _search(instance2, seed=3)
        search.run(0, 0.0, 0.2, effort=1.5)
        outcomes.append((search.best.objective, search.steps))
        best = search.best
        cells = frozenset(cell for cell, var in built.x.items() if best.solution[var.index])
        evaluation = evaluate(ci, roster_of(cells))
        assert evaluation.hard_violations == []
        assert evaluation.objective == best.objective
        assert start.objective is not None and best.objective <= start.objective
    assert outcomes[0] == outcomes[1]


def test_solve_curtois_keeps_to_its_time_limit() -> None:
    began = time.monotonic()
    result = solve_curtois(SHARED / "Instance5.txt", time_limit=6, workers=2)
    assert time.monotonic() - began < 6 + 2
    assert result["status"] in ("feasible", "optimal") and result["hard_violations"] == 0
    assert result["objective"] is not None and result["objective"] <= 1241 + 2000


# ---------------------------------------------------------------------- heaviest penalties first


def test_the_heaviest_model_minimises_only_the_heaviest_penalties(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    heavy = _heaviest(built)
    assert heavy is not None and heavy.model is not built.model
    weight = max(p.weight for p in built.penalties)
    assert heavy.penalties and {p.weight for p in heavy.penalties} == {weight}
    assert len(heavy.penalties) < len([p for p in built.penalties if p.terms])  # the lighter ones are gone

    def at_first_schedule(model: cp_model.CpModel) -> list[int]:
        """Every cell fixed to the first schedule; the penalties' own variables as low as they go."""
        fixed = model.clone()
        for _, var in built.x.items():
            fixed.add(var == _value(start.solution, var))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        assert solver.solve(fixed) == cp_model.OPTIMAL
        return list(solver.response_proto.solution)

    whole = at_first_schedule(built.model)
    expected = sum(p.weight * (sum(c * _value(whole, v) for c, v in p.terms) + p.constant) for p in heavy.penalties)
    light = sum(p.weight * (sum(c * _value(whole, v) for c, v in p.terms) + p.constant) for p in built.penalties)
    solution = at_first_schedule(heavy.model)
    solver_objective = sum(
        p.weight * (sum(c * _value(solution, v) for c, v in p.terms) + p.constant) for p in heavy.penalties
    )
    assert (
        heavy.model.proto.objective.offset
        + sum(
            coefficient * solution[var]
            for var, coefficient in zip(
                heavy.model.proto.objective.vars, heavy.model.proto.objective.coeffs, strict=True
            )
        )
        == solver_objective
        == expected
        < light
    )  # the heaviest terms only, and they are not all
    assert built.model.proto.objective != heavy.model.proto.objective  # the whole model is untouched


def test_no_heaviest_phase_when_every_penalty_weighs_the_same(instance2: tuple[BuiltModel, _Run]) -> None:
    built, _ = instance2
    weight = max(p.weight for p in built.penalties)
    assert _heaviest(replace(built, penalties=[p for p in built.penalties if p.weight == weight])) is None
    assert _heaviest(replace(built, penalties=[])) is None


def test_the_hinted_copy_hints_every_cell_with_the_schedule(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    cells = frozenset(cell for cell, var in built.x.items() if start.solution[var.index])
    hinted = _hinted(built, cells)
    hint = dict(zip(hinted.model.proto.solution_hint.vars, hinted.model.proto.solution_hint.values, strict=True))
    assert hint == {var.index: int(cell in cells) for cell, var in built.x.items()}
    assert hinted.model is not built.model and hinted.x is built.x


def test_the_search_starts_from_the_heaviest_phase_and_reports_the_whole_time() -> None:
    ci = load_curtois(SHARED / "Instance5.txt")
    instance, rules = curtois_problem(ci)
    built = build_model(instance, rules)
    began = time.monotonic()
    result = neighbourhood_search(built, time_limit=6, workers=2, heaviest_first=0.5)
    spent = time.monotonic() - began
    assert result.status == "feasible" and result.cells
    assert result.seconds == pytest.approx(spent, abs=0.5) and spent < 6 + 2
    # progress is of the whole objective only, timed from the start: after the heaviest phase
    assert result.progress and all(p.seconds >= 0.5 * 6 - 0.1 for p in result.progress)
    assert result.progress[-1].objective == result.objective
    evaluation = evaluate(ci, roster_of(result.cells))
    assert evaluation.hard_violations == [] and evaluation.objective == result.objective


# ---------------------------------------------------------------------- the stall rule


def test_the_stall_rule_waits_for_the_switch_then_for_a_stall() -> None:
    assert _stall_wait(now=2.0, switch_at=10.0, last=1.0, stall=3.0) == 8.0  # its share of the time first
    assert _stall_wait(now=10.0, switch_at=10.0, last=None, stall=3.0) == POLL  # no schedule yet: it runs on
    assert _stall_wait(now=10.0, switch_at=10.0, last=4.0, stall=3.0) == 0.0  # it had stalled by the switch
    assert _stall_wait(now=10.0, switch_at=10.0, last=8.0, stall=3.0) == 1.0  # a recent gain: a stall from it
    assert _stall_wait(now=13.0, switch_at=10.0, last=12.5, stall=3.0) == 2.5
    assert _stall_wait(now=16.0, switch_at=10.0, last=12.5, stall=3.0) == 0.0


def test_the_whole_solve_goes_on_past_the_switch_while_it_improves(instance2: tuple[BuiltModel, _Run]) -> None:
    built, _ = instance2
    first = _solve_whole(built, 10, 2, 0, switch=0.0)  # without the rule: its first schedule ends it
    assert len(first.progress) == 1
    stall = 1.0
    run = _solve_whole(built, 10, 2, 0, switch=0.0, stall=stall)
    assert run.solution is not None and run.objective is not None and first.objective is not None
    assert len(run.progress) > 1 and run.objective < first.objective
    assert [p.objective for p in run.progress] == sorted((p.objective for p in run.progress), reverse=True)
    if run.status != "optimal":  # it stopped a stall after its last gain (the margin is for a loaded machine)
        assert run.progress[-1].seconds + stall <= run.seconds + 0.05 < run.progress[-1].seconds + stall + 2.0


def test_a_search_with_the_stall_rule_keeps_every_hard_rule() -> None:
    ci = load_curtois(SHARED / "Instance1.txt")
    built = build_model(*curtois_problem(ci))
    result = neighbourhood_search(built, time_limit=4, workers=2, seed=0, first=0.1, stall=0.5, companion=False)
    assert result.cells and result.objective is not None
    evaluation = evaluate(ci, roster_of(result.cells))
    assert evaluation.hard_violations == [] and evaluation.objective == result.objective
    assert result.progress[-1].objective == result.objective


# ---------------------------------------------------------------------- the companion


def _better_schedule(built: BuiltModel, start: _Run) -> _Run:
    """A schedule better than ``start`` from CP-SAT on the whole model."""
    run = _solve_whole(built, 3, 2, 1)
    assert run.solution is not None and run.objective is not None and start.objective is not None
    assert run.objective < start.objective
    return run


def test_a_better_schedule_from_the_companion_joins_the_search(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    search = _search(instance2)
    better = _better_schedule(built, start)
    assert better.solution is not None and better.objective is not None
    assert not search.adopt(search.best.objective, list(better.solution), None)  # only a better one
    raised = search.bound + 1
    assert search.adopt(better.objective, list(better.solution), raised)
    best = search.best
    assert (best.objective, best.solution, best.version) == (better.objective, better.solution, 1)
    version, changed = search.changes[-1]
    differs = [p for p, v in enumerate(search.var) if better.solution[v] != start.solution[v]]  # type: ignore[index]
    assert version == 1 and changed == differs and changed
    assert search.progress[-1].objective == better.objective and search.bound == raised
    assert not search.closed()
    assert not search.adopt(better.objective + 1, list(better.solution), better.objective)  # a bound alone
    assert search.bound == better.objective and search.closed()


def test_a_closed_search_takes_no_more_steps(instance2: tuple[BuiltModel, _Run]) -> None:
    search = _search(instance2)
    search.bound = search.best.objective
    search.run(0, time.monotonic() + 5, 0.2)
    assert search.steps == 0


def test_the_companion_proves_a_small_instance_optimal_and_ends_the_search() -> None:
    ci = load_curtois(SHARED / "Instance1.txt")
    instance, rules = curtois_problem(ci)
    built = build_model(instance, rules)
    began = time.monotonic()
    result = neighbourhood_search(built, time_limit=30, workers=2)
    assert time.monotonic() - began < 15
    assert result.status == "optimal" and result.objective == result.best_bound == 607
    assert evaluate(ci, roster_of(result.cells)).objective == 607


def test_the_companion_hands_its_schedules_over_and_stops_on_request(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    search = _search(instance2)
    side = _Companion(built, time.monotonic() + 30, 0, patience=30, wait=30)
    side.start()
    side.join(search)
    deadline = time.monotonic() + 20
    while side.found == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert side.found > 0 and side.best is not None and side.running
    stopping = time.monotonic()
    side.stop()
    assert time.monotonic() - stopping < 3 and side.done.is_set() and not side.running
    assert side.stopped or side.optimal
    assert search.best.objective <= side.best.objective  # every schedule was offered
    side.leave(search)
    assert side.search is None


def test_a_companion_without_gains_gives_its_worker_to_the_search(
    instance2: tuple[BuiltModel, _Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    built, _ = instance2
    lanes: list[int] = []
    run = _Search.run

    def recording(self: _Search, thread: int, deadline: float, step: float, effort: float | None = None) -> None:
        lanes.append(thread)
        run(self, thread, deadline, step, effort)

    monkeypatch.setattr(_Search, "run", recording)
    side = _Companion(built, time.monotonic() + 30, 0, patience=0.0, wait=30)
    side.start()
    options: dict[str, Any] = {
        "first": 0.1,
        "step": 0.5,
        "kinds": ALL_KINDS,
        "parameters": None,
        "select": "bandit",
        "log": False,
    }
    result = _search_on(built, time_limit=3, workers=2, seed=0, side=side, joins=True, **options)
    assert side.stopped and side.done.is_set()
    assert sorted(lanes) == [0, 1]  # one lane at first, the companion's worker after it stopped
    assert result.cells and result.status in ("feasible", "optimal")


def test_one_worker_runs_no_companion(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[_Companion] = []

    class Recorded(_Companion):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr("rotaflow.constraints.search._Companion", Recorded)
    built = build_model(*curtois_problem(load_curtois(SHARED / "Instance1.txt")))
    assert neighbourhood_search(built, time_limit=2, workers=1).objective is not None
    assert made == []
    assert neighbourhood_search(built, time_limit=2, workers=2, companion=False).objective is not None
    assert made == []
    # it ends as soon as it proves the optimum (about a second); the time limit only spares a loaded machine
    assert neighbourhood_search(built, time_limit=30, workers=2).status == "optimal"
    assert len(made) == 1 and made[0].done.is_set()


def test_the_companion_is_idle_without_a_first_schedule_or_without_gains(instance2: tuple[BuiltModel, _Run]) -> None:
    built, start = instance2
    assert start.solution is not None and start.objective is not None
    side = _Companion(built, time.monotonic() + 30, 0, patience=5.0, wait=2.0)
    began = side.began
    assert not side.idle(began + 1.0, joined=False)
    assert side.idle(began + 2.5, joined=False)  # no schedule at all within ``wait``
    side.offer(start.objective, list(start.solution), 0.0)
    assert side.best is not None and side.found == 1 and side.improved >= began
    side.improved = began + 1.0  # its own best, a second in
    assert not side.idle(began + 100.0, joined=False)  # no search to improve: it goes on
    search = _search(instance2)
    side.search = search  # the search's best is the same schedule
    assert not side.idle(began + 5.5, joined=True)
    assert side.idle(began + 6.5, joined=True)  # neither its own best nor the search's bettered within ``patience``
    side.gained = began + 3.0  # it bettered the search's best later
    assert not side.idle(began + 7.5, joined=True)
    assert side.idle(began + 8.5, joined=True)
    side.offer(start.objective + 1, list(start.solution), 0.0)  # a worse schedule is no gain of its own
    assert side.improved == began + 1.0 and side.found == 2 and side.best.objective == start.objective
    # far behind the search (by more than LAG), once it has run ``patience`` seconds
    side.gained = side.improved = began + 7.0
    search.best = replace(search.best, objective=start.objective / (1 + LAG) - 1)
    assert not side.idle(began + 4.0, joined=True)
    assert side.idle(began + 8.0, joined=True)
    search.best = replace(search.best, objective=start.objective / (1 + LAG) + 1)
    assert not side.idle(began + 8.0, joined=True)


def test_a_companion_that_proved_optimality_ends_the_next_phase_at_once() -> None:
    built = build_model(*curtois_problem(load_curtois(SHARED / "Instance1.txt")))
    side = _Companion(built, time.monotonic() + 30, 0, patience=30, wait=30)
    side.start()
    assert side.done.wait(20) and side.optimal and side.best is not None and side.best.objective == 607
    options: dict[str, Any] = {"first": 0.0, "step": 0.5, "kinds": ALL_KINDS, "parameters": None, "select": "bandit"}
    began = time.monotonic()
    result = _search_on(built, time_limit=20, workers=2, seed=0, log=False, side=side, joins=True, **options)
    assert time.monotonic() - began < 5
    assert result.status == "optimal" and result.objective == 607 and result.best_bound == 607


def test_the_search_begins_from_a_given_schedule_without_a_bound() -> None:
    """With ``start`` the first schedule is the one given, completed by CP-SAT; no bound is known then."""
    import time

    from rotaflow.constraints.benchmark import construct_curtois, curtois_problem
    from rotaflow.constraints.curtois import evaluate, load_curtois
    from rotaflow.constraints.model import build_model
    from rotaflow.constraints.search import neighbourhood_search

    ci = load_curtois(Path(__file__).resolve().parents[2] / "fixtures" / "curtois" / "Instance2.txt")
    roster = construct_curtois(ci, deadline=time.monotonic() + 20, seed=0)
    assert roster is not None
    cells = frozenset((p, d, s) for p, days in roster.items() for d, s in days.items())
    built = build_model(*curtois_problem(ci))
    result = neighbourhood_search(
        built, time_limit=3, workers=1, seed=0, start=cells, heaviest_first=0, companion=False
    )
    assert result.progress[0].objective == evaluate(ci, roster).objective
    assert result.objective is not None and result.objective <= result.progress[0].objective
    assert evaluate(ci, {p: {d: s for q, d, s in result.cells if q == p} for p in ci.staff_ids}).hard_violations == []


def test_no_companion_runs_beside_a_search_that_begins_from_a_given_schedule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A given schedule stands for a model too large for CP-SAT on its own: both workers step neighbourhoods."""
    instance, rules = curtois_problem(load_curtois(SHARED / "Instance2.txt"))
    built = build_model(instance, rules)
    first = _solve_whole(built, 10, 2, 0, switch=0.0)
    assert first.solution is not None
    cells = built.x.extract(lambda v: _value(first.solution, v))
    neighbourhood_search(built, time_limit=2, workers=2, seed=0, heaviest_first=0, log=True)
    assert "companion:" in capsys.readouterr().out
    neighbourhood_search(built, time_limit=2, workers=2, seed=0, heaviest_first=0, log=True, start=cells)
    out = capsys.readouterr().out
    assert "companion:" not in out and " t1 " in out  # the second worker steps too
