"""The contingency flows on Prefect's local API: thread pool and Dask runners agree; artifacts."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.task_runners import ThreadPoolTaskRunner

from rotaflow.configs.settings import Settings, get_settings
from rotaflow.flows.contingency import contingency_analysis, contingency_report, contingency_task_runner
from rotaflow.validations.contingency import ContingencyAnalysis
from tests.unit.validations.test_contingency import CAP_DAY_4, START, TRIO_CELLS, write_program

pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Any:
    yield
    gc.collect()


@pytest.fixture
def trio_program(tmp_path: Path) -> tuple[str, str]:
    """The trio program (any two of A, B, C are too few) plus D on leave, and its schedule as assignments.csv."""
    folder = write_program(
        tmp_path / "trio",
        people=["A,resident,2,,DAYS", "B,resident,2,,DAYS", "C,resident,2,,DAYS", "D,resident,2,,VAC"],
        coverage=["DAY,daily,DAYS,resident,,,1,1,"],
        extra_rules=CAP_DAY_4,
    )
    schedule = tmp_path / "assignments.csv"
    schedule.write_text(
        "person_id,date,shift_id\n" + "".join(f"{p},{START + dt.timedelta(days=d)},{s}\n" for p, d, s in TRIO_CELLS),
        encoding="utf-8",
    )
    return str(folder), str(schedule)


def thread_pool(workers: int = 2) -> Any:
    """A thread pool runner (typed loosely: Prefect's runner generics do not line up for mypy)."""
    return ThreadPoolTaskRunner(max_workers=workers)


def _artifacts(key: str) -> list[Any]:
    """The artifacts of ``key``, oldest first (the API's order is not the order they were made in)."""

    async def run() -> Any:
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    return sorted(asyncio.run(run()), key=lambda artifact: artifact.created)


def test_thread_pool_and_dask_runners_give_identical_frames(trio_program: tuple[str, str]) -> None:
    from prefect_dask import DaskTaskRunner

    program, schedule = trio_program
    threads = contingency_analysis.with_options(task_runner=thread_pool())(program, "B1", schedule, 2)
    dask_runner: Any = DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": False, "dashboard_address": ":0"}
    )
    dask = contingency_analysis.with_options(task_runner=dask_runner)(program, "B1", schedule, 2)
    assert isinstance(threads, ContingencyAnalysis) and isinstance(dask, ContingencyAnalysis)
    frame = threads.scenarios
    assert len(frame) == 4 + 6
    assert (frame["settled_by"] == "solver").sum() == 3  # the three fatal pairs were mapped to repair tasks
    assert threads.fatal_pairs == (("A", "B"), ("A", "C"), ("B", "C"))
    assert frame.drop(columns="seconds").equals(dask.scenarios.drop(columns="seconds"))
    assert threads.summary() | {"seconds": 0} == dask.summary() | {"seconds": 0}


def test_the_report_uses_the_runner_of_the_settings_and_publishes_artifacts(
    trio_program: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    program, schedule = trio_program
    monkeypatch.setenv("ROTAFLOW_CONTINGENCY_TASK_RUNNER", "threads")
    monkeypatch.setenv("ROTAFLOW_CONTINGENCY_WORKERS", "3")
    get_settings.cache_clear()
    chosen: list[Any] = []
    real = contingency_task_runner

    def spy(settings: Settings | None = None, **kwargs: Any) -> Any:
        runner = real(settings, **kwargs)
        chosen.append(runner)
        return runner

    monkeypatch.setattr("rotaflow.flows.contingency.contingency_task_runner", spy)
    analysis = contingency_report(program, "B1", schedule=schedule, order=2, from_date=START + dt.timedelta(days=3))
    assert isinstance(chosen[0], ThreadPoolTaskRunner) and chosen[0]._max_workers == 3
    assert isinstance(analysis, ContingencyAnalysis) and analysis.order == 2
    assert analysis.from_date == START + dt.timedelta(days=3)
    assert list(analysis.scenarios["people"])[:4] == [("A",), ("B",), ("C",), ("D",)]
    assert analysis.fatal_pairs == (("B", "C"),)  # from day 3 only B and C together are too many to lose
    [markdown] = _artifacts("contingency-summary")[-1:]
    assert "Contingency of block B1" in markdown.data and "critical people (N-1 uncovered): none" in markdown.data
    assert "fatal pairs without a critical member: B+C" in markdown.data
    [table] = _artifacts("contingency-scenarios")[-1:]
    assert '"people": "A"' in str(table.data) or "'people': 'A'" in str(table.data)


def test_a_block_with_nothing_published_is_refused_not_solved(
    trio_program: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.errors import InputError
    from rotaflow.services import generate as generate_service

    solves: list[Any] = []
    monkeypatch.setattr(generate_service, "solve_block", lambda *a, **k: solves.append(a))
    program, _ = trio_program
    with pytest.raises(InputError, match="block B1 of .* has nothing published") as refused:
        contingency_report(program, "B1", order=1)
    assert "rotaflow generate --block B1" in str(refused.value)
    assert solves == []


def test_the_published_schedule_of_the_block_is_analysed(trio_program: tuple[str, str], tmp_path: Path) -> None:
    from rotaflow.flows.generate import generate_block

    program, _ = trio_program
    generated = generate_block(program, "B1", out_dir=str(tmp_path / "run"), contingency="none", backup=False)
    assert generated["status"] in ("optimal", "feasible"), generated
    analysis = contingency_report(program, "B1", order=1)
    assert analysis.block_id == "B1" and len(analysis.scenarios) == 4


def test_the_block_defaults_to_the_one_containing_today(trio_program: tuple[str, str]) -> None:
    from rotaflow.errors import InputError
    from rotaflow.flows.contingency import current_block
    from rotaflow.services.ingest import load_bundle

    program, schedule = trio_program
    bundle = load_bundle(program, settings=get_settings())
    assert current_block(bundle, START) == "B1" == current_block(bundle, START + dt.timedelta(days=6))
    with pytest.raises(InputError, match=r"no block of .* contains 2027-07-12"):
        current_block(bundle, START + dt.timedelta(days=7))
    today = dt.datetime.now(ZoneInfo(bundle.program.timezone)).date()
    if not START <= today <= START + dt.timedelta(days=6):  # the trio's only block is in July 2027
        with pytest.raises(InputError, match=f"a block containing today \\({today} in "):
            contingency_report(program, schedule=schedule, order=1)


def test_an_unknown_block_or_schedule_file_fails_the_flow(trio_program: tuple[str, str], tmp_path: Path) -> None:
    from rotaflow.errors import InputError

    program, schedule = trio_program
    runner = thread_pool()
    with pytest.raises(InputError, match="--block"):
        contingency_analysis.with_options(task_runner=runner)(program, "B9", schedule, 1)
    with pytest.raises(InputError, match="no such file"):
        contingency_analysis.with_options(task_runner=runner)(program, "B1", str(tmp_path / "none.csv"), 1)


def row_outcome(frame: Any, people: tuple[str, ...]) -> str:
    return str(frame[frame["people"] == people]["outcome"].iloc[0])


def test_the_settings_choose_threads_dask_or_a_scheduler_address() -> None:
    from prefect_dask import DaskTaskRunner

    threads = contingency_task_runner(Settings(contingency_workers=4))
    assert isinstance(threads, ThreadPoolTaskRunner) and threads._max_workers == 4
    local = contingency_task_runner(Settings(contingency_task_runner="dask", contingency_workers=2))
    assert isinstance(local, DaskTaskRunner) and local.address is None
    assert local.cluster_kwargs["n_workers"] == 2 and local.cluster_kwargs["processes"] is True
    remote = contingency_task_runner(Settings(contingency_task_runner="dask", dask_address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"


def test_without_a_prefect_api_the_local_cluster_runs_threads() -> None:
    """Worker processes would each start a temporary API of their own: threads report to this one."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    settings = Settings(contingency_task_runner="dask")
    assert contingency_task_runner(settings).cluster_kwargs["processes"] is True
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert contingency_task_runner(settings).cluster_kwargs["processes"] is False
    assert contingency_task_runner(settings, processes=False).cluster_kwargs["processes"] is False
