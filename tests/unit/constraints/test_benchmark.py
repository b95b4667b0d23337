"""The Curtois & Qu benchmark runs on the same rule engine and scores with the independent evaluator."""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.constraints.benchmark import curtois_problem, roster_of, solve_curtois
from rotaflow.constraints.curtois import evaluate, load_curtois
from rotaflow.constraints.model import build_model
from rotaflow.constraints.solve import solve

# Instances 1 and 2 travel with the tests (tests/fixtures/curtois); the shared benchmark folder, when
# beside the project, holds the same files.
SHARED = Path(__file__).resolve().parents[2] / "fixtures" / "curtois"
INSTANCE1 = SHARED / "Instance1.txt"


def test_instance_1_solves_to_its_optimum_607() -> None:
    result = solve_curtois(INSTANCE1, time_limit=20, workers=2)
    assert (result["instance"], result["status"], result["objective"]) == ("Instance1", "optimal", 607)
    assert result["hard_violations"] == 0 and result["bound"] == 607


def test_the_engine_objective_is_the_official_one() -> None:
    """On a schedule found, the rule engine's objective never understates the independent evaluator's (a
    first schedule's penalty variables may stand above what they count), and with the schedule fixed and
    only its penalties left to the solver, both are the same."""
    ci = load_curtois(SHARED / "Instance2.txt")
    instance, rules = curtois_problem(ci)
    first = solve(build_model(instance, rules), time_limit=30, workers=2, relative_gap=0.99)
    assert first.cells and first.objective is not None
    evaluation = evaluate(ci, roster_of(first.cells))
    assert evaluation.hard_violations == []
    assert evaluation.objective <= first.objective
    fixed = {cell: cell in first.cells for cell in instance.cells}
    scored = solve(build_model(instance, rules), time_limit=30, workers=2, fixed=fixed)
    assert scored.status == "optimal" and scored.cells == first.cells
    assert scored.objective == evaluation.objective


def test_the_mapping_uses_registered_rules_only() -> None:
    _, rules = curtois_problem(load_curtois(INSTANCE1))
    assert {r.name for r in rules} == {
        "one_shift_per_day",
        "fixed_days_off",
        "forbidden_successions",
        "max_shifts_per_type",
        "total_minutes",
        "consecutive_working_days",
        "consecutive_days_off",
        "max_weekends",
        "coverage_target",
        "shift_requests",
    }
    assert [r.kind for r in rules[:8]] == ["hard"] * 8


def test_a_roster_built_person_by_person_keeps_every_hard_rule() -> None:
    import time

    from rotaflow.constraints.benchmark import construct_curtois

    for name in ("Instance1.txt", "Instance2.txt", "Instance5.txt"):
        ci = load_curtois(SHARED / name)
        roster = construct_curtois(ci, deadline=time.monotonic() + 30, seed=1)
        assert roster is not None and set(roster) == set(ci.staff_ids)
        evaluation = evaluate(ci, roster)
        assert evaluation.hard_violations == [], name
        assert any(roster.values())


def test_building_person_by_person_gives_up_at_its_deadline() -> None:
    from rotaflow.constraints.benchmark import construct_curtois

    assert construct_curtois(load_curtois(SHARED / "Instance5.txt"), deadline=0.0) is None


def test_the_search_starts_from_the_built_roster_on_large_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above CONSTRUCT_ABOVE cells the search begins from the roster built person by person."""
    import rotaflow.constraints.benchmark as benchmark

    monkeypatch.setattr(benchmark, "CONSTRUCT_ABOVE", 0)
    result = solve_curtois(SHARED / "Instance5.txt", time_limit=8, workers=2, seed=0)
    assert result["status"] in ("feasible", "optimal") and result["hard_violations"] == 0
    assert result["objective"] is not None and result["objective"] >= 1143


def test_the_improving_passes_keep_the_hard_rules_and_never_worsen() -> None:
    import time
    from collections import Counter

    from rotaflow.constraints import benchmark

    ci = load_curtois(SHARED / "Instance5.txt")
    roster = benchmark.construct_curtois(ci, deadline=time.monotonic() + 20, seed=3, improve=False)
    assert roster is not None
    assigned = Counter((d, s) for days in roster.values() for d, s in days.items())
    before = evaluate(ci, roster).objective
    assert benchmark._objective(ci, roster, assigned) == before
    benchmark.improve_roster(ci, roster, deadline=time.monotonic() + 4, seed=3, workers=2)
    after = evaluate(ci, roster)
    assert after.hard_violations == []
    assert after.objective < before  # the roster built greedily, person after person, is improved in place
    assigned = Counter((d, s) for days in roster.values() for d, s in days.items())
    assert benchmark._objective(ci, roster, assigned) == after.objective


def test_with_too_little_time_left_the_built_roster_is_the_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import rotaflow.constraints.benchmark as benchmark
    from rotaflow.constraints.curtois import roster_from_csv

    monkeypatch.setattr(benchmark, "CONSTRUCT_ABOVE", 0)
    monkeypatch.setattr(benchmark, "SEARCH_AFTER", 1.0)
    out = tmp_path / "r.csv"
    result = solve_curtois(SHARED / "Instance5.txt", time_limit=6, workers=2, seed=0, roster_path=out)
    assert (result["status"], result["solver_objective"], result["bound"]) == ("feasible", None, None)
    evaluation = evaluate(load_curtois(SHARED / "Instance5.txt"), roster_from_csv(out.read_text()))
    assert evaluation.hard_violations == [] and evaluation.objective == result["objective"]
    assert result["seconds"] < 6 * 3  # no search of the whole model after it (a loaded machine runs late)


def test_a_search_roster_breaking_a_hard_rule_never_replaces_the_built_one() -> None:
    from rotaflow.constraints.benchmark import _better

    ci = load_curtois(INSTANCE1)
    instance, rules = curtois_problem(ci)
    built = solve(build_model(instance, rules), time_limit=30, workers=2, relative_gap=0.99)
    start = roster_of(built.cells)
    assert evaluate(ci, start).hard_violations == []
    # everyone on every day on the first shift: far fewer cover penalties missed, but hard rules broken
    shift = ci.shifts[0].id
    crowded = {s.id: dict.fromkeys(range(ci.horizon), shift) for s in ci.staff}
    broken = evaluate(ci, crowded)
    assert broken.hard_violations
    assert not _better(ci, crowded, start)
    assert not _better(ci, {}, start)
    assert _better(ci, start, start)  # the search's own roster is kept when it costs no more
