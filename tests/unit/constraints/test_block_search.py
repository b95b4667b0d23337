"""Block generation's search: the choice between CP-SAT and the neighbourhood search, and the
neighbourhood search on a synthetic block (hard rules kept, steady improvement, the kill switch)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from rotaflow.constraints.instance import Instance
from rotaflow.constraints.ruleset import ConfiguredRule
from rotaflow.constraints.solve import Progress
from rotaflow.services.generate import check, load_solver_settings, search_for, solve_block
from rotaflow.services.synth import write_bundle
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance, rules_for


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, list[ConfiguredRule]]:
    folder = tmp_path_factory.mktemp("synthetic")
    write_bundle(folder, residents=12, seed=1)
    bundle = parse_bundle({p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()})
    return block_instance(bundle, "2027-B01"), rules_for(bundle)


def test_auto_picks_the_neighbourhood_search_from_the_threshold_on() -> None:
    settings = load_solver_settings(search="auto", lns_min_cells=20_000)
    assert search_for(settings, 19_999) == "cpsat"
    assert search_for(settings, 20_000) == "lns"
    assert search_for(load_solver_settings(), 33_600) == "cpsat"  # a 150-resident block
    assert search_for(settings, 67_200) == "lns"
    assert search_for(load_solver_settings(search="cpsat"), 10**6) == "cpsat"
    assert search_for(load_solver_settings(search="lns"), 10) == "lns"


def test_the_shipped_settings_choose_automatically() -> None:
    settings = load_solver_settings()
    assert (settings.search, settings.lns_min_cells) == ("auto", 50_000)


def test_an_unknown_search_is_refused() -> None:
    with pytest.raises(ValidationError, match="search"):
        load_solver_settings(search="tabu")
    with pytest.raises(ValidationError, match="lns_min_cells"):
        load_solver_settings(lns_min_cells=-1)


def test_the_neighbourhood_search_keeps_every_hard_rule_and_improves(
    block: tuple[Instance, list[ConfiguredRule]],
) -> None:
    instance, rules = block
    heard: list[Progress] = []
    # the limit leaves room for the first schedule (about a second when the machine is idle) on a loaded one
    settings = load_solver_settings(search="lns", time_limit_seconds=12, workers=2)
    result = solve_block(instance, rules, settings, on_progress=heard.append)
    assert result.status in ("feasible", "optimal")
    assert result.cells and result.objective is not None and result.best_bound is not None
    assert result.best_bound <= result.objective
    assert [v for v in check(instance, rules, result.cells) if v.severity == "violation"] == []
    assert heard, "each better schedule is reported"
    assert result.objective <= heard[0].objective
    assert [p.objective for p in heard] == sorted((p.objective for p in heard), reverse=True)
    assert heard[-1].objective == result.objective
    assert result.seconds < 12 + 60  # it ends at its limit; the margin is for a loaded machine


def test_the_kill_switch_stops_the_neighbourhood_search_with_its_best_schedule(
    block: tuple[Instance, list[ConfiguredRule]],
) -> None:
    instance, rules = block
    stop = threading.Event()
    heard: list[Progress] = []
    stopped: list[float] = []

    def first(point: Progress) -> None:
        heard.append(point)
        if not stop.is_set():  # the first schedule is enough
            stopped.append(time.monotonic())
            stop.set()

    limit = 600
    settings = load_solver_settings(search="lns", time_limit_seconds=limit, workers=2)
    result = solve_block(instance, rules, settings, stop=stop, on_progress=first)
    assert stopped and time.monotonic() - stopped[0] < limit / 5  # long before the limit, even on a loaded machine
    assert result.status in ("cancelled", "optimal")
    assert result.cells and result.objective is not None and result.objective <= heard[0].objective
    assert [v for v in check(instance, rules, result.cells) if v.severity == "violation"] == []


def test_a_stop_before_the_start_cancels_at_once(block: tuple[Instance, list[ConfiguredRule]]) -> None:
    instance, rules = block
    stop = threading.Event()
    stop.set()
    result = solve_block(instance, rules, load_solver_settings(search="lns", time_limit_seconds=60), stop=stop)
    assert (result.status, result.objective, result.cells) == ("cancelled", None, frozenset())


def test_summary_json_carries_the_gap_to_the_bound() -> None:
    from rotaflow.constraints.solve import SolveResult
    from rotaflow.services.results import GenerateResult, summary_json

    start = GenerateResult.start(
        run_id="r1", program="p", program_version=1, block_id="B1", rules=[], time_limit_seconds=60
    )
    assert "gap" not in start.as_dict()  # not solved yet
    solved = start.solved(SolveResult("feasible", 400.0, 300.0, 1.0, frozenset()))
    assert solved.as_dict()["gap"] == 0.25
    assert '"gap": 0.25' in summary_json(solved)
    assert start.solved(SolveResult("timeout", None, 0.0, 1.0, frozenset())).as_dict()["gap"] is None
