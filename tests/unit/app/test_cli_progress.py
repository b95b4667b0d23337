"""Progress of long work: the callbacks of the solver, the contingency analysis and the backup copies,
the process-wide observers, the rich display on standard error and when the command line shows it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from rotaflow import events, progress
from rotaflow.backups.config import load_backup_config, open_tier_store
from rotaflow.backups.sets import create_backup, fetch_backup
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.constraints.solve import Progress
from rotaflow.flows import generate as generate_flow
from rotaflow.services import generate as service
from rotaflow.storage import LocalStore
from rotaflow.validations.contingency import RepairJob, ScenarioResult, analyse_contingency, repair_scenario
from rotaflow.validations.contingency import repair as contingency_repair
from rotaflow.validations.instances import block_instance, rules_for
from tests.schedules import load, make_solvable

NAMES = ("Resident One", "Resident Two", "Resident Three", "Faculty One", "@example.org")


class Recorder(events.Observer):
    """Every event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def solve_started(self, limit: float) -> None:
        self.events.append(("solve_started", limit))

    def solution(self, point: Progress) -> None:
        self.events.append(("solution", point))

    def solve_finished(self, status: str, seconds: float, objective: float | None, bound: float | None) -> None:
        self.events.append(("solve_finished", status, objective, bound))

    def scenarios_planned(self, order: int, total: int) -> None:
        self.events.append(("scenarios_planned", order, total))

    def scenarios_done(self, order: int, count: int) -> None:
        self.events.append(("scenarios_done", order, count))

    def transfer_started(self, kind: events.TransferKind, total: int) -> None:
        self.events.append(("transfer_started", kind, total))

    def transferred(self, kind: events.TransferKind, count: int) -> None:
        self.events.append(("transferred", kind, count))

    def transfer_finished(self, kind: events.TransferKind) -> None:
        self.events.append(("transfer_finished", kind))

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == name]


@dataclass
class Solved:
    """Block B1 of the solvable tiny bundle, solved once for the module with a callback and observers."""

    bundle: Path
    schedule: Path
    result: Any
    points: list[Progress]
    heard: Recorder


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    folder = tmp_path_factory.mktemp("solved")
    bundle = make_solvable(Path(shutil.copytree(Path(__file__).parents[2] / "fixtures" / "tiny", folder / "tiny")))

    class Broken(events.Observer):
        def solution(self, point: Progress) -> None:
            raise RuntimeError("a display bug")

    points: list[Progress] = []
    heard = Recorder()
    with events.observing(Broken()), events.observing(heard):  # a failing observer breaks nothing
        result = _solve(bundle, on_progress=points.append)
    assert not events.active()
    schedule = folder / "assignments.csv"
    with schedule.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=service.ASSIGNMENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(service.assignment_rows(block_instance(load(bundle), "B1"), result.cells))
    return Solved(bundle, schedule, result, points, heard)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    observer = Recorder()
    with events.observing(observer):
        yield observer


@pytest.fixture
def live(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    return filled_sqlite


def _cells(schedule: Path) -> list[tuple[str, dt.date, str]]:
    with schedule.open(newline="") as handle:
        return [(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in csv.DictReader(handle)]


def _solve(bundle_dir: Path, **kwargs: Any) -> Any:
    bundle = load(bundle_dir)
    settings = service.load_solver_settings(time_limit_seconds=10, workers=1)
    return service.solve_block(block_instance(bundle, "B1"), rules_for(bundle), settings, **kwargs)


# --------------------------------------------------------------------------- the callbacks and observers


def test_the_solver_reports_each_improving_solution(solved: Solved) -> None:
    result, points = solved.result, solved.points
    assert result.status == "optimal" and points and result.cells
    assert [p.seconds for p in points] == sorted(p.seconds for p in points)
    objectives = [p.objective for p in points]
    assert objectives == sorted(objectives, reverse=True) and objectives[-1] == result.objective
    assert all(p.bound <= p.objective for p in points)
    # the observers hear the same solutions, framed by the start (with the limit) and the final numbers
    events = solved.heard.events
    assert events[0] == ("solve_started", 10.0)
    assert [e[1] for e in solved.heard.named("solution")] == points
    assert events[-1] == ("solve_finished", "optimal", result.objective, result.best_bound)


@pytest.mark.parametrize(("order", "total"), [(1, 4), (2, 4 + 6)])
def test_contingency_reports_scenarios_done_up_to_the_total(
    order: int, total: int, solved: Solved, recorder: Recorder
) -> None:
    cells = _cells(solved.schedule)
    calls: list[tuple[int, int]] = []
    analysis = analyse_contingency(
        load(solved.bundle), "B1", cells, order=order, on_progress=lambda done, of: calls.append((done, of))
    )
    assert len(analysis.scenarios) == total
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls) and {c[1] for c in calls} == {total}
    # observers: each order's scenarios announced, then each one settled exactly once
    planned = {e[1]: e[2] for e in recorder.named("scenarios_planned")}
    assert planned == ({1: 4} if order == 1 else {1: 4, 2: 6})
    for k, count in planned.items():
        assert sum(e[2] for e in recorder.named("scenarios_done") if e[1] == k) == count


def test_a_scenario_the_solver_settles_counts_as_done(
    solved: Solved, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = ScenarioResult(("R1", "R3"), 2, dt.date(2027, 7, 1), "covered", "solver", repair_size=2)
    monkeypatch.setattr(contingency_repair, "_repair", lambda context, job: pair)  # the CP-SAT part, tested elsewhere
    assert repair_scenario(SimpleNamespace(), RepairJob(("R1", "R3"), 0, frozenset())) is pair  # type: ignore[arg-type]
    assert recorder.events == [("scenarios_done", 2, 1)]


def test_local_copies_report_every_chunk(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * (2 * 1024 * 1024 + 5))  # three chunks of at most 1 MiB
    store = LocalStore(tmp_path / "store")
    up: list[int] = []
    store.put_file("a/big.bin", source, on_chunk=up.append)
    down: list[int] = []
    store.get_file("a/big.bin", tmp_path / "back.bin", on_chunk=down.append)
    assert up == down == [1024 * 1024, 1024 * 1024, 5]
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_backup_copies_report_bytes_up_to_the_total(live: str, tmp_path: Path, recorder: Recorder) -> None:
    config = load_backup_config()
    sent: list[tuple[int, int]] = []
    created = create_backup("quick", config=config, on_bytes=lambda done, of: sent.append((done, of)))
    store = open_tier_store("quick", config)
    stored = sum(p.stat().st_size for p in (Path(store.url) / created.backup_id).rglob("*") if p.is_file())
    assert sent[0] == (0, stored) and sent[-1] == (stored, stored)
    assert [s[0] for s in sent] == sorted(s[0] for s in sent)

    received: list[tuple[int, int]] = []
    fetched = fetch_backup(store, created.backup_id, tmp_path / "down", on_bytes=lambda d, of: received.append((d, of)))
    local = sum(p.stat().st_size for p in fetched.folder.rglob("*") if p.is_file())
    assert received[0] == (0, stored) and received[-1] == (stored, stored) and local == stored

    # the observers saw both copies, whole
    assert recorder.named("transfer_started") == [
        ("transfer_started", "upload", stored),
        ("transfer_started", "download", stored),
    ]
    for kind in ("upload", "download"):
        assert sum(e[2] for e in recorder.named("transferred") if e[1] == kind) == stored
    assert recorder.named("transfer_finished") == [("transfer_finished", "upload"), ("transfer_finished", "download")]


# --------------------------------------------------------------------------- the display


def _feed() -> None:
    events.solve_started(60)
    events.solution(Progress(0.4, 130, 90))
    events.solution(Progress(1.2, 120, 100))
    events.solve_finished("feasible", 2.25, 120, 100)
    events.scenarios_planned(1, 4)
    events.scenarios_done(1, 3)
    events.scenarios_done(1)
    transfer = events.Transfer.start("upload", None, lambda: 3_500_000)
    assert transfer is not None
    transfer.add(3_000_000)
    transfer.add(500_000)
    transfer.finish()


def test_the_display_shows_objective_bound_scenarios_and_bytes() -> None:
    buffer = io.StringIO()
    with progress.RichProgress(Console(file=buffer, width=160)) as shown, events.observing(shown):
        _feed()
    text = buffer.getvalue()
    assert "solving" in text and "feasible · objective 120 · bound 100 · gap 16.7% · 2 solutions · 2.2/60 s" in text
    assert "N-1 scenarios" in text and "4/4" in text
    assert "backup upload" in text and "3.5 MB/3.5 MB" in text


def test_the_display_moves_on_a_terminal_with_log_lines_above_it() -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    buffer = io.StringIO()
    logger = logging.getLogger("rotaflow.test.progress")
    plain, rich_handler = logging.StreamHandler(sys.stderr), PrefectConsoleHandler(stream=sys.stderr)
    for handler in (plain, rich_handler):
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # only these two handlers
    try:
        terminal = Console(file=buffer, width=160, force_terminal=True)
        with progress.RichProgress(terminal) as shown, events.observing(shown):
            events.solve_started(30)
            events.solution(Progress(0.1, 77, 70))
            logger.info("a log line meanwhile")
        assert plain.stream is sys.stderr and rich_handler.console.file is sys.stderr  # put back
    finally:
        for handler in (plain, rich_handler):
            logger.removeHandler(handler)
    text = buffer.getvalue()
    assert "objective 77 · bound 70" in text and "/30 s" in text
    assert text.count("a log line meanwhile") == 2  # both handlers printed through the display, above the bars
    assert "\x1b[" in text  # a terminal: the bars are redrawn in place


def test_nothing_long_leaves_no_trace() -> None:
    buffer = io.StringIO()
    with progress.RichProgress(Console(file=buffer)) as shown, events.observing(shown):
        pass
    assert buffer.getvalue() == ""


@pytest.mark.parametrize(
    ("option", "as_json", "env", "terminal", "shown"),
    [
        (None, False, None, True, True),
        (None, False, None, False, False),
        (True, False, None, False, True),
        (False, False, "always", True, False),
        (None, False, "always", False, True),
        (None, False, "never", True, False),
        (None, False, "bogus", True, True),
        (True, True, "always", True, False),  # never with --json
    ],
)
def test_when_progress_is_shown(
    option: bool | None,
    as_json: bool,
    env: str | None,
    terminal: bool,
    shown: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if env is None:
        monkeypatch.delenv(progress.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(progress.ENV_VAR, env)
    console = Console(file=io.StringIO(), force_terminal=terminal)
    assert progress.wanted(option, as_json=as_json, console=console) is shown


# --------------------------------------------------------------------------- the command line


def test_backup_create_shows_the_upload_when_forced(live: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "create", "--no-flow", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "backup upload" in captured.err and " kB/" in captured.err
    assert "backup upload" not in captured.out and "verified in" in captured.out


def test_json_never_shows_progress(
    live: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(progress.ENV_VAR, "always")
    assert main(["backup", "create", "--no-flow", "--json", "--progress"]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["verified"] is True
    assert "backup upload" not in captured.err
    assert main(["backup", "create", "--no-flow", "--no-progress"]) == 0  # the option beats the variable
    assert "backup upload" not in capfd.readouterr().err


def test_validate_shows_the_contingency_scenarios(
    solved: Solved, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks are replaced by the part that matters here: the contingency analysis (real) in this process."""
    import rotaflow.services.validate

    def checks(bundle: Any, frame: Any, *, block_id: str | None, contingency: str) -> Any:
        cells = list(zip(frame["person_id"], frame["date"].dt.date, frame["shift_id"], strict=True))
        analysis = analyse_contingency(bundle, "B1", cells) if contingency != "none" else None
        facts = {
            "verdict": "passed",
            "period_start": "2027-07-01",
            "period_end": "2027-07-28",
            "blocks": ["B1"],
            "assignments": len(cells),
            "hard_violations": 0,
            "warnings": 0,
            "infos": 0,
            "findings_by_rule": [],
            "utilisation_by_block": [],
            "burnout_bands": {},
            "seconds": {},
        }  # a summary that holds to validation.json's contract
        if analysis is not None:
            facts["contingency"] = {"scenarios": len(analysis.scenarios)}
        return SimpleNamespace(summary=lambda: facts)

    monkeypatch.setattr(rotaflow.services.validate, "validate", checks)
    monkeypatch.setattr(rotaflow.services.validate, "write_validation", lambda *args, **kwargs: None)
    monkeypatch.setenv(progress.ENV_VAR, "always")
    args = ["validate", "-p", str(solved.bundle), "-s", str(solved.schedule), "--out", str(tmp_path), "--no-flow"]
    assert main([*args, "--block", "B1", "--contingency", "n1"]) == 0
    captured = capsys.readouterr()
    assert "N-1 scenarios" in captured.err and "4/4" in captured.err
    assert not any(name in captured.err for name in NAMES) and "passed" in captured.out
    assert main([*args, "--block", "B1", "--contingency", "n1", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["contingency"]["scenarios"] == 4 and "N-1 scenarios" not in captured.err


def test_generate_shows_the_solver_while_the_flow_runs(
    solved: Solved, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flow is replaced by the part that matters here: its solve task calling solve_block in this
    process, with a callback of its own; the model and CP-SAT replay the module's solve."""
    watched: list[bool] = []

    def replay(built: Any, *, on_progress: Any = None, **kwargs: Any) -> Any:
        for point in solved.points:
            if on_progress is not None:
                on_progress(point)
        return solved.result

    monkeypatch.setattr(service, "build_model", lambda instance, rules: SimpleNamespace(instance=instance))
    monkeypatch.setattr(service, "solve_from_first", replay)

    def flow(program: str, block: str, **kwargs: Any) -> Any:
        watched.append(events.active())
        settings = service.load_solver_settings(time_limit_seconds=10)
        result = service.solve_block(
            SimpleNamespace(previous=(), cells=()), [], settings, on_progress=lambda point: None
        )  # type: ignore[arg-type]
        summary = {"program": "tiny", "block_id": block, "status": result.status, "objective": result.objective}
        summary |= {"best_bound": result.best_bound, "solve_seconds": 0.5, "hard_violations": 0, "warnings": 0}
        return SimpleNamespace(is_cancelled=lambda: False, result=lambda raise_on_failure=True: summary)

    monkeypatch.setattr(generate_flow, "generate_block", flow)
    args = ["generate", "-p", str(solved.bundle), "-b", "B1", "--out", str(tmp_path / "out")]
    assert main([*args, "--progress"]) == 0
    captured = capsys.readouterr()
    assert "solving" in captured.err and re.search(r"(optimal|feasible) · objective \d+ · bound \d+", captured.err)
    assert "/10 s" in captured.err and not any(name in captured.err for name in NAMES)
    assert "solving" not in captured.out and "optimal" in captured.out

    monkeypatch.setenv(progress.ENV_VAR, "always")
    assert main([*args, "--progress", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["objective"] == 120 and "solving" not in captured.err
    assert watched == [True, False] and not events.active()
