"""The validate_schedule flow on Prefect's local API: verdict, artifacts, failed states."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from rotaflow.errors import InfeasibleError, InputError
from rotaflow.flows.validate import validate_schedule
from tests.schedules import make_solvable, solved_schedule


def _artifacts(key: str, flow_run_id: object) -> list[Any]:
    async def run() -> list[Any]:
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    return [a for a in asyncio.run(run()) if a.flow_run_id == flow_run_id]


@pytest.fixture
def program(tiny_dir: Path) -> Path:
    return make_solvable(tiny_dir)


@pytest.fixture
def schedule(program: Path, tmp_path: Path) -> Path:
    return solved_schedule(program, "B1", tmp_path / "assignments.csv")


def test_a_valid_schedule_completes_with_artifacts(program: Path, schedule: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = validate_schedule(
        str(program), str(schedule), out_dir=str(out), block_id="B1", data_docs=False, return_state=True
    )
    assert state.is_completed(), state.message
    result = state.result()
    assert result["verdict"] == "passed" and result["hard_violations"] == 0 and result["block_id"] == "B1"
    assert (out / "report.html").is_file() and (out / "findings.csv").is_file()
    run_id = state.state_details.flow_run_id
    summary = _artifacts("validation-summary", run_id)
    assert summary and "passed" in summary[0].data
    assert state.message == f"validated: 0 hard violations, {result['warnings']} warning(s)"
    # no reports server (a plain CLI run): the report's path as text, no file:// link the browser refuses
    assert f"- report: `{(out / 'report.html').resolve()}`" in summary[0].data
    assert not _artifacts("validation-report", run_id)


def test_under_serve_the_artifacts_link_the_report_over_http(
    program: Path, schedule: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.tasks.links import REPORTS_URL_ENV

    monkeypatch.setenv(REPORTS_URL_ENV, "http://127.0.0.1:4201/token")  # as `rotaflow serve` tells its worker
    out = get_settings().var_dir / "runs" / "tiny-B1-check"
    state = validate_schedule(
        str(program), str(schedule), out_dir=str(out), block_id="B1", data_docs=True, return_state=True
    )
    assert state.is_completed(), state.message
    run_id = state.state_details.flow_run_id
    [link] = _artifacts("validation-report", run_id)
    assert "http://127.0.0.1:4201/token/runs/tiny-B1-check/report.html" in link.data
    summary = _artifacts("validation-summary", run_id)[0].data
    assert "[report.html](http://127.0.0.1:4201/token/runs/tiny-B1-check/report.html)" in summary
    # the run's own Data Docs page, at its path under var/ on the reports server
    [docs] = _artifacts("validation-data-docs", run_id)
    site = "http://127.0.0.1:4201/token/gx/gx/uncommitted/data_docs/local_site/runs/"
    url = docs.data.split("(", 1)[1].rstrip(")")
    assert url.startswith(site) and url.endswith(".html") and f"[Data Docs]({url})" in summary
    assert (get_settings().var_dir / url.removeprefix("http://127.0.0.1:4201/token/")).is_file()


def test_a_violation_fails_the_run_with_its_summary(program: Path, schedule: Path, tmp_path: Path) -> None:
    text = schedule.read_text().splitlines()
    header, rows = text[0], text[1:]
    # double-book a resident: every row of R1 again, as a second copy one day later is not allowed to overlap
    first = next(r for r in rows if r.startswith("R1,"))
    person, date, _shift = first.split(",")[:3]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "person_id,date,shift_id\n" + "\n".join(",".join(r.split(",")[:3]) for r in rows) + f"\n{person},{date},NIGHT\n"
    )
    state = validate_schedule(str(program), str(bad), out_dir=str(tmp_path / "out"), data_docs=False, return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InfeasibleError)
    assert error.summary is not None and error.summary["hard_violations"] >= 1
    assert header.startswith("person_id")


def test_a_bad_schedule_fails_with_located_problems(program: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,date,shift_id\nR1,2027-07-05,NOPE\n")
    state = validate_schedule(str(program), str(bad), out_dir=str(tmp_path / "out"), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError)
    assert any(p.file == "bad.csv" and p.row == 1 and p.column == "shift_id" for p in error.problems)
