"""The year planning's typed result: plan_summary.json's facts, where they were written, the plan published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotaflow.errors import InfeasibleError
from rotaflow.services.results import YearResult

PLAN_SUMMARY = {
    "program": "sample",
    "status": "optimal",
    "objective": 3,
    "best_bound": 3,
    "gap": 0.0,
    "solve_seconds": 0.412,
    "time_limit_seconds": 60,
    "vacation": "hard",
    "residents": 4,
    "blocks": 13,
    "penalties": {"wishes": 3},
    "unmet": [{"person_id": "R1", "block_id": "B02", "rotation_id": "ICU", "kind": "wish", "reason": "full"}],
    "diagnosis": [],
}


def _result(tmp_path: Path) -> YearResult:
    files = [tmp_path / "rotation_assignments.csv", tmp_path / "plan_summary.json", tmp_path / "year.html"]
    return YearResult.of(PLAN_SUMMARY, out_dir=tmp_path, files=files)


def test_the_json_form_is_the_plan_summary_then_the_run_s_facts(tmp_path: Path) -> None:
    data = _result(tmp_path).as_dict()
    assert data == {
        **PLAN_SUMMARY,
        "out_dir": str(tmp_path.resolve()),
        "files": ["rotation_assignments.csv", "plan_summary.json", "year.html"],
        "published": None,
    }
    assert list(data) == [*PLAN_SUMMARY, "out_dir", "files", "published"]
    assert isinstance(data["time_limit_seconds"], int)  # as given: 60 stays 60 in the JSON


def test_a_published_plan_gives_its_number(tmp_path: Path) -> None:
    result = _result(tmp_path)
    published = result.published_as(7)
    assert published.published == 7 and result.published is None
    assert published.as_dict() == {**result.as_dict(), "published": 7}


def test_the_result_round_trips_through_its_json_form(tmp_path: Path) -> None:
    result = _result(tmp_path).published_as(2)
    data = json.loads(json.dumps(result.as_dict()))
    assert YearResult(**data) == result and YearResult(**data).as_dict() == result.as_dict()


def test_a_fact_plan_summary_json_does_not_have_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        YearResult.of({**PLAN_SUMMARY, "colour": "red"}, out_dir=tmp_path, files=[])


def test_an_impossible_year_s_error_carries_the_result(tmp_path: Path) -> None:
    result = YearResult.of({**PLAN_SUMMARY, "status": "infeasible"}, out_dir=tmp_path, files=[])
    error = InfeasibleError("the year cannot be planned", summary=result.as_dict())
    assert error.summary is not None and error.summary["published"] is None and error.exit_code == 3
