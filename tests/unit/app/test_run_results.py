"""Typed run results: their JSON form, and the output contracts held where the files are written."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest

import rotaflow.services.generate as service
from rotaflow.constraints.solve import SolveResult
from rotaflow.errors import InfeasibleError, InputError, RotaflowError, StorageError
from rotaflow.services import validate as validation_service
from rotaflow.services.ingest import load_bundle
from rotaflow.services.results import BrokenOutput, GenerateResult, NotYet, ValidateResult, check_csv
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS
from rotaflow.validations.instances import block_instance
from rotaflow.validations.schedule import load_schedule, read_schedule_file
from tests.schedules import make_solvable, solved_schedule

CELLS = [("R1", 0, "DAY"), ("R2", 1, "NIGHT"), ("R3", 2, "DAY")]
START = GenerateResult.start(
    run_id="run-1", program="tiny", program_version=1, block_id="B1", rules=["coverage"], time_limit_seconds=5.0
)
FINDING = {
    "rule": "coverage",
    "severity": "warning",
    "person_id": "",
    "window_start": "2027-07-01",
    "window_end": "2027-07-01",
    "value": 1.0,
    "limit": 2.0,
    "unit": "people",
    "message": "DAY on 2027-07-01 has 1 of 2",
}


def _solved(status: str = "optimal") -> SolveResult:
    return SolveResult(status, 12.0, 10.0, 1.23456, frozenset(), {"coverage_target": 2})  # type: ignore[arg-type]


def test_a_result_shows_the_fields_it_reached_in_the_order_summary_json_always_had(tmp_path: Path) -> None:
    assert list(START.as_dict()) == [
        "run_id",
        "program",
        "program_version",
        "block_id",
        "status",
        "objective",
        "best_bound",
        "solve_seconds",
        "hard_violations",
        "warnings",
        "rules",
        "time_limit_seconds",
    ]
    done = (
        START.with_(preflight=[])
        .solved(_solved())
        .checked([FINDING])
        .written_to(tmp_path)
        .validated({"hard_violations": 0, "warnings": 3, "verdict": "passed", "run_id": "run-1"})
        .published_as(True)
        .backed_up({"backup_id": "b1"})
    )
    facts = done.as_dict()
    assert list(facts)[12:] == [
        "preflight",
        "penalties",
        "gap",
        "published",
        "out_dir",
        "engine_check_violations",
        "validation",
        "backup",
    ]
    assert facts["solve_seconds"] == 1.235 and facts["objective"] == 12.0 and facts["warnings"] == 3
    assert facts["validation"] == {"verdict": "passed"}  # what the run already says is not repeated
    assert done.run_facts() == {
        "run_id": "run-1",
        "status": "optimal",
        "objective": 12.0,
        "best_bound": 10.0,
        "solve_seconds": 1.235,
    }


def test_the_validation_counts_the_hard_violations_the_engine_missed() -> None:
    checked = START.solved(_solved()).checked([{**FINDING, "severity": "violation"}])
    validated = checked.validated({"hard_violations": 3, "warnings": 0})
    assert (validated.engine_check_violations, validated.hard_violations) == (1, 3)


def test_a_result_is_frozen_and_changes_by_copy() -> None:
    with pytest.raises(ValueError, match="frozen"):
        START.status = "optimal"  # type: ignore[misc]
    assert START.solved(_solved()).status == "optimal" and START.status == "infeasible"


def test_a_block_that_is_not_due_yet_says_so_in_four_fields() -> None:
    assert NotYet.of("tiny", "B2", "later").as_dict() == {
        "program": "tiny",
        "block_id": "B2",
        "status": "not-yet",
        "message": "later",
    }


def test_an_error_that_ends_a_run_carries_its_summary_also_through_pickling() -> None:
    error = InfeasibleError("2 hard violation(s)", summary=START.as_dict())
    assert error.summary == START.as_dict() and str(error) == "2 hard violation(s)"
    copy = pickle.loads(pickle.dumps(error))
    assert copy.summary == START.as_dict() and copy.args == error.args
    assert StorageError("the store is away").summary is None


# --------------------------------------------------------------------------- contracts at the writer


def _instance(tiny_dir: Path) -> object:
    return block_instance(load_bundle(str(tiny_dir)), "B1")


def test_the_run_outputs_hold_to_their_contracts(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    service.write_outputs(out, instance=_instance(tiny_dir), cells=CELLS, findings=[FINDING], summary=START)
    assert json.loads((out / "summary.json").read_text()) == START.as_dict()
    assert (out / "summary.json").read_text() == json.dumps(START.as_dict(), indent=2) + "\n"


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"rule": "Not A Rule"}, "rule"),
        ({"severity": "fatal"}, "severity"),
        ({"window_end": "2027-06-01"}, "window_end"),
        ({"message": None}, "message"),
    ],
)
def test_a_malformed_findings_frame_is_refused_at_the_writer(
    tiny_dir: Path, tmp_path: Path, change: dict[str, object], what: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(BrokenOutput, match=f"findings.csv that breaks its contract.*{what}"):
        service.write_outputs(
            out, instance=_instance(tiny_dir), cells=CELLS, findings=[{**FINDING, **change}], summary=START
        )
    assert not out.exists()  # nothing is written


def test_a_summary_that_breaks_its_contract_is_refused_at_the_writer(tiny_dir: Path, tmp_path: Path) -> None:
    broken = START.with_(hard_violations="many")
    with pytest.raises(BrokenOutput, match="summary.json that breaks its contract: hard_violations"):
        service.write_outputs(tmp_path / "out", instance=_instance(tiny_dir), cells=CELLS, findings=[], summary=broken)
    with pytest.raises(BrokenOutput, match="summary.json"):
        service.write_summary(tmp_path, broken)
    assert not (tmp_path / "summary.json").exists()


@pytest.mark.parametrize(
    ("row", "what"),
    [
        ("R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,99,WARD,solver,,", "hours"),
        ("R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,12,WARD,guess,,", "source"),
        ("R1,2027-07-01,DAY,07:00,2027-07-01T19:00:00-04:00,12,WARD,solver,,", "start"),
        (
            "R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,12,WARD,solver,2027-07-01T07:00,",
            "start_local",
        ),
    ],
)
def test_a_malformed_assignments_file_is_refused(row: str, what: str) -> None:
    with pytest.raises(BrokenOutput, match=f"assignments.csv that breaks its contract.*{what}"):
        check_csv("assignments", ",".join(ASSIGNMENT_COLUMNS) + "\n" + row + "\n")


def test_an_output_with_other_columns_is_refused() -> None:
    with pytest.raises(BrokenOutput, match="expected the columns rule, severity"):
        check_csv("findings", ",".join(reversed(FINDING_COLUMNS)) + "\n")


@pytest.fixture
def validated(tiny_dir: Path, tmp_path: Path) -> tuple[object, validation_service.Validation]:
    program = make_solvable(tiny_dir)
    schedule = solved_schedule(program, "B1", tmp_path / "assignments.csv")
    bundle = load_bundle(str(program))
    frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
    return bundle, validation_service.validate(bundle, frame, block_id="B1")


def test_a_malformed_validation_findings_frame_is_refused_at_the_writer(
    validated: tuple[object, validation_service.Validation], tmp_path: Path
) -> None:
    bundle, validation = validated
    bad = pd.DataFrame([{**FINDING, "severity": "fatal"}], columns=FINDING_COLUMNS)
    out = tmp_path / "out"
    with pytest.raises(BrokenOutput, match="findings.csv that breaks its contract.*severity"):
        validation_service.write_validation(
            out,
            dataclasses.replace(validation, findings=bad),
            bundle,
            data_docs=False,  # type: ignore[arg-type]
        )
    assert not (out / "findings.csv").exists()


def test_validation_json_holds_to_its_contract(
    validated: tuple[object, validation_service.Validation], tmp_path: Path
) -> None:
    bundle, validation = validated
    facts = validation_service.validation_facts("tiny", "assignments.csv", "B1")
    validation_service.write_validation(tmp_path / "ok", validation, bundle, summary=facts, data_docs=False)  # type: ignore[arg-type]
    written = json.loads((tmp_path / "ok" / "validation.json").read_text())
    ValidateResult.model_validate(written)
    result = validation_service.validation_result(validation, facts, tmp_path / "ok").as_dict()
    assert list(result)[:3] == ["program", "schedule", "block_id"] and list(result)[-1] == "out_dir"
    with pytest.raises(BrokenOutput, match="validation.json that breaks its contract: surprise"):
        validation_service.write_validation(
            tmp_path / "bad",
            validation,
            bundle,
            summary={**facts, "surprise": 1},
            data_docs=False,  # type: ignore[arg-type]
        )
    assert not (tmp_path / "bad" / "validation.json").exists()
    with pytest.raises(BrokenOutput, match="validation result that breaks its contract: surprise"):
        validation_service.validation_result(validation, {**facts, "surprise": 1}, tmp_path / "ok")


def test_a_generation_runs_facts_are_repeated_by_its_validation() -> None:
    run = START.solved(_solved()).run_facts()
    facts = validation_service.validation_facts("tiny", "assignments.csv", None, run)
    assert facts == {"program": "tiny", "schedule": "assignments.csv", **run}


def test_a_run_fact_the_validation_does_not_know_is_bad_input_naming_the_parameter() -> None:
    run = {"run_id": "run-1", "surprise": 1, "another": 2}
    with pytest.raises(InputError) as refused:
        validation_service.validation_facts("tiny", "assignments.csv", "B1", run)
    (problem,) = refused.value.problems
    assert problem.column == "extra" and problem.got == "another, surprise"
    assert "run_id, status, objective, best_bound, solve_seconds" in problem.expected
    assert refused.value.exit_code == 2


def test_a_broken_output_is_an_internal_error_not_bad_input() -> None:
    assert issubclass(BrokenOutput, RotaflowError) and BrokenOutput.exit_code == 1
