"""assignments.csv's local date-times and findings.csv's kind, date and shift_id: written, held, read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

import rotaflow.services.generate as service
from rotaflow.constraints.registry import Violation
from rotaflow.services import validate as validation_service
from rotaflow.services.ingest import load_bundle
from rotaflow.services.results import GenerateResult, check_csv
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS, AssignmentsModel
from rotaflow.validations.findings import finding_kind, rule_kinds, with_kinds
from rotaflow.validations.instances import block_instance, rules_for
from rotaflow.validations.schedule import load_schedule

START = GenerateResult.start(
    run_id="run-1", program="tiny", program_version=1, block_id="B1", rules=["coverage"], time_limit_seconds=5.0
)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_assignments_carry_local_date_times_next_to_the_iso_instants(tiny_dir: Path, tmp_path: Path) -> None:
    instance = block_instance(load_bundle(str(tiny_dir)), "B1")
    cells = [("R1", 0, "DAY"), ("R2", 1, "NIGHT"), ("R3", 2, "HOME")]
    service.write_outputs(tmp_path, instance=instance, cells=cells, findings=[], summary=START)
    with (tmp_path / "assignments.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ASSIGNMENT_COLUMNS
        rows = {r["shift_id"]: r for r in reader}
    assert ASSIGNMENT_COLUMNS[-2:] == ["start_local", "end_local"]
    day, night, home = rows["DAY"], rows["NIGHT"], rows["HOME"]
    assert (day["start"], day["end"]) == ("2027-07-01T07:00:00-04:00", "2027-07-01T19:00:00-04:00")  # unchanged
    assert (day["start_local"], day["end_local"]) == ("2027-07-01 07:00", "2027-07-01 19:00")
    assert (night["start_local"], night["end_local"]) == ("2027-07-02 19:00", "2027-07-03 07:00")  # past midnight
    # home call: 14 h on the clock, but its hours are the expected call-in hours (home_call_hours)
    assert (home["start_local"], home["end_local"], home["hours"]) == ("2027-07-03 17:00", "2027-07-04 07:00", "2.0")
    # a spreadsheet (and pandas) reads them as date-times without an offset
    assert pd.to_datetime(day["start_local"]) == pd.Timestamp("2027-07-01 07:00")


def test_assignments_keep_their_first_columns_in_place_and_append_the_local_ones() -> None:
    """Extend, never break: a reader of the eight columns by position still finds them where they were."""
    first = ASSIGNMENT_COLUMNS[:8]
    assert first == ["person_id", "date", "shift_id", "start", "end", "hours", "rotation_id", "source"]
    assert ASSIGNMENT_COLUMNS[8:] == ["start_local", "end_local"]
    assert list(AssignmentsModel.to_schema().columns) == ASSIGNMENT_COLUMNS


def test_validate_writes_the_same_local_columns(tiny_dir: Path) -> None:
    bundle = load_bundle(str(tiny_dir))
    schedule = load_schedule(bundle, b"person_id,date,shift_id\nR2,2027-07-02,NIGHT\n")
    text = validation_service.assignments_csv(schedule, bundle.program.timezone)
    check_csv("assignments", text)
    assert text.splitlines()[0] == ",".join(ASSIGNMENT_COLUMNS)
    (row,) = _rows(text)
    assert (row["start"], row["start_local"], row["end_local"]) == (
        "2027-07-02T19:00:00-04:00",
        "2027-07-02 19:00",
        "2027-07-03 07:00",
    )


def test_a_schedule_rotaflow_wrote_is_read_back_with_its_new_columns(tiny_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(str(tiny_dir))
    instance = block_instance(bundle, "B1")
    service.write_outputs(tmp_path, instance=instance, cells=[("R1", 0, "DAY")], findings=[], summary=START)
    schedule = load_schedule(bundle, (tmp_path / "assignments.csv").read_bytes())  # validate --schedule
    assert schedule[["person_id", "shift_id"]].values.tolist() == [["R1", "DAY"]]


def test_older_outputs_without_the_new_columns_are_still_read() -> None:
    assignments = (
        "person_id,date,shift_id,start,end,hours,rotation_id,source\n"
        "R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,12,WARD,solver\n"
    )
    findings = (
        "rule,severity,person_id,window_start,window_end,value,limit,unit,message\n"
        "coverage,violation,,2027-07-01,2027-07-01,0,1,people,DAY on 2027-07-01 has 0 of 1\n"
    )
    frames = validation_service.read_outputs({"assignments": assignments.encode(), "findings": findings.encode()})
    assert frames["assignments"]["start_local"].isna().all()
    assert frames["findings"][["kind", "date", "shift_id"]].isna().all().all()


def test_a_malformed_finding_kind_is_refused() -> None:
    row = "coverage,violation,,2027-07-01,2027-07-01,0,1,people,short,firm,2027-07-01,DAY"
    with pytest.raises(Exception, match="findings.csv that breaks its contract.*kind"):
        check_csv("findings", ",".join(FINDING_COLUMNS) + "\n" + row + "\n")


def test_engine_findings_carry_their_kind_and_the_shift_they_are_about(tiny_dir: Path) -> None:
    bundle = load_bundle(str(tiny_dir))
    instance = block_instance(bundle, "B1")
    rules = rules_for(bundle)
    kinds = rule_kinds(rules)
    rows = service.findings_rows(instance, service.check(instance, rules, [("R1", 0, "DAY")]), kinds)
    text = service._csv(rows, FINDING_COLUMNS)
    check_csv("findings", text)
    found = _rows(text)
    short = [r for r in found if r["rule"] == "coverage"]
    assert short and all(r["kind"] == "hard" and r["severity"] == "violation" for r in short)
    assert all(r["date"] == r["window_start"] and r["shift_id"] in instance.shift for r in short)
    assert {"2027-07-01", "NIGHT"} <= {v for r in short for v in (r["date"], r["shift_id"])}
    assert all(r["kind"] == kinds[r["rule"]] for r in found)
    targets = [r for r in found if r["rule"] == "coverage_target"]  # a soft rule's warnings
    assert targets and {(r["kind"], r["severity"], r["shift_id"]) for r in targets} == {("soft", "warning", "DAY")}
    requests = [r for r in found if r["rule"] == "shift_requests"]  # a request for a whole day names no shift
    assert requests and all(r["kind"] == "soft" for r in requests)


def test_the_kind_of_a_finding() -> None:
    assert finding_kind("coverage", "violation") == "hard"
    assert finding_kind("coverage_target", "warning") == "soft"  # a soft rule by default
    assert finding_kind("acgme_weekly_hours", "warning") == "hard"  # an early warning of a hard rule
    assert finding_kind("acgme_weekly_hours", "warning", {"acgme_weekly_hours": "soft"}) == "soft"  # configured
    assert finding_kind("utilisation", "warning") == "soft"  # no rule: only advice
    assert finding_kind("work_during_absence", "info") == "soft"
    assert finding_kind("not_a_rule", "violation") == "hard"


def test_with_kinds_fills_only_missing_kinds() -> None:
    frame = pd.DataFrame(
        [
            {"rule": "coverage_target", "severity": "warning", "kind": "hard"},
            {"rule": "coverage_target", "severity": "warning"},
        ]
    )
    out = with_kinds(frame)
    assert list(out.columns) == FINDING_COLUMNS
    assert out["kind"].tolist() == ["hard", "soft"]
    assert out["date"].isna().all() and str(out["date"].dtype).startswith("datetime64")


def test_a_per_shift_violation_names_its_date_and_shift(tiny_dir: Path) -> None:
    instance = block_instance(load_bundle(str(tiny_dir)), "B1")
    shift = Violation("fixed_days_off", "R1", 2, 2, 1, 0, "shifts", "R1 works DAY on a fixed day off", shift="DAY")
    window = Violation("max_weekends", "R1", 0, 13, 3, 2, "weekends", "R1 works 3 weekends", "warning")
    by_rule = {r["rule"]: r for r in service.findings_rows(instance, [shift, window])}
    assert (by_rule["fixed_days_off"]["date"], by_rule["fixed_days_off"]["shift_id"]) == (
        (instance.start + dt.timedelta(days=2)).isoformat(),
        "DAY",
    )
    assert by_rule["fixed_days_off"]["kind"] == "hard"
    assert (by_rule["max_weekends"]["date"], by_rule["max_weekends"]["shift_id"]) == (None, None)
