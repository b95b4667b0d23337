"""summary.json's ``phases``: the run's clock, nested phases, parts moved afterwards, and the contract."""

from __future__ import annotations

import threading
import time

import pytest

from rotaflow.services.results import (
    PHASE_EPSILON,
    PHASES,
    BrokenOutput,
    GenerateResult,
    PhaseClock,
    Phases,
    check_json,
    clocked,
    move_phase,
    phase,
    summary_json,
)


def _result() -> GenerateResult:
    return GenerateResult.start(
        run_id="r", program="p", program_version=1, block_id="B1", rules=[], time_limit_seconds=10
    )


def test_a_phase_inside_another_is_its_own_and_the_outer_keeps_the_rest() -> None:
    with clocked() as clock:
        with phase("ingest"):
            time.sleep(0.05)
            with phase("contracts"):
                time.sleep(0.1)
        phases = clock.phases()
    # a slow machine only makes each phase longer: lower bounds, and the total holding both
    assert phases.contracts is not None and phases.contracts >= 0.1
    assert phases.ingest is not None and phases.ingest >= 0.05
    assert phases.preflight is None and phases.solve is None
    assert phases.ingest + phases.contracts <= phases.total + PHASE_EPSILON  # each rounded to 3 decimals
    with phase("export"):  # the clock ends with its block
        pass
    assert clock.phases().export is None


def test_a_part_known_afterwards_moves_to_its_phase() -> None:
    with clocked() as clock:
        with phase("build"):
            time.sleep(0.1)
        move_phase("build", "solve", 0.06)
        move_phase("build", "contingency", 5.0)  # never more than the source had
    phases = clock.phases()
    assert phases.solve == pytest.approx(0.06)
    assert phases.build == 0.0 and phases.contingency is not None and phases.contingency > 0.0


def test_without_a_clock_nothing_is_timed_and_the_summary_is_unchanged() -> None:
    with phase("ingest"):
        move_phase("build", "solve", 1.0)
    summary = _result()
    assert summary.timed() is summary
    assert "phases" not in summary.as_dict()


def test_another_thread_times_nothing_on_the_runs_clock() -> None:
    clock = PhaseClock()

    def elsewhere() -> None:
        with clock.phase("contingency"):
            time.sleep(0.01)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert clock.phases().contingency is None


def test_unknown_phases_are_refused() -> None:
    clock = PhaseClock()
    with pytest.raises(ValueError, match="unknown phase 'warmup'"), clock.phase("warmup"):
        pass
    with pytest.raises(ValueError, match="unknown phase 'warmup'"):
        clock.move("build", "warmup", 1.0)


def test_summary_json_holds_every_phase_and_the_total() -> None:
    with clocked():
        with phase("solve"):
            pass
        summary = _result().timed()
    data = summary.as_dict()["phases"]
    assert list(data) == [*PHASES, "total"]  # every phase, null when it did not run
    assert data["solve"] is not None and data["backup"] is None
    assert '"phases"' in summary_json(summary)


def test_the_clocks_total_is_never_below_its_phases_sum() -> None:
    # each phase rounded to 3 decimals: eleven of them can add up to a few milliseconds above the elapsed time
    clock = PhaseClock()
    clock.seconds = {name: 1.0 for name in PHASES}  # more than has elapsed since the clock started
    phases = clock.phases()
    assert phases.total == pytest.approx(len(PHASES))
    assert sum(getattr(phases, name) for name in PHASES) <= phases.total


def test_the_contract_refuses_negative_seconds_and_phases_beyond_the_total() -> None:
    with pytest.raises(ValueError, match="more than the total"):
        Phases(solve=2.0, build=1.5, total=3.0)
    data = _result().as_dict()
    with pytest.raises(BrokenOutput, match="phases.solve"):
        check_json(GenerateResult, {**data, "phases": {"solve": -1.0, "total": 1.0}}, "summary.json")
    with pytest.raises(BrokenOutput, match="phases"):
        check_json(GenerateResult, {**data, "phases": {"solve": 1.0, "total": 0.5}}, "summary.json")
    check_json(GenerateResult, {**data, "phases": {"solve": 1.0, "build": None, "total": 1.0}}, "summary.json")
