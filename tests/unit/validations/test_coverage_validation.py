"""Coverage, structure and utilisation, recomputed from the bundle and the assignments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.coverage import band_of, demands, person_days, shift_hours, validate_coverage
from rotaflow.validations.schedule import load_schedule

WEEK = (dt.date(2027, 7, 5), dt.date(2027, 7, 11))  # Monday to Sunday in block B1


def _bundle(folder: Path, **replace: str) -> Bundle:
    for name, text in replace.items():
        (folder / name.replace("__", ".")).write_text(text)
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def _schedule(bundle: Bundle, rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return load_schedule(bundle, pd.DataFrame(rows, columns=["person_id", "date", "shift_id"]))


def _full_week(bundle: Bundle) -> pd.DataFrame:
    """Every demand of the week met: one WARD resident and the faculty on DAY, NF on NIGHT."""
    rows = []
    for offset in range(7):
        date = (WEEK[0] + dt.timedelta(days=offset)).isoformat()
        rows.append(("R1" if offset % 2 else "R2", date, "DAY"))
        rows.append(("R3", date, "NIGHT"))
        if offset < 5:
            rows.append(("F1", date, "DAY"))
    return _schedule(bundle, rows)


def _rules(report_findings: pd.DataFrame, severity: str = "violation") -> list[tuple[str, str, str]]:
    hits = report_findings[report_findings["severity"] == severity]
    return sorted(zip(hits["rule"], hits["person_id"], hits["window_start"], strict=True))


def test_demands_follow_patterns_and_dated_overrides(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    need = demands(bundle, dt.date(2027, 7, 3), dt.date(2027, 7, 5))
    day = need[need["shift_id"] == "DAY"]
    by_date = day.groupby(day["date"].dt.date)["row"].apply(list).to_dict()
    # Saturday: the daily ward row only; Sunday the 4th: the dated row replaces every DAY pattern row;
    # Monday: the daily ward row and the weekday faculty row
    assert by_date == {dt.date(2027, 7, 3): [1], dt.date(2027, 7, 4): [4], dt.date(2027, 7, 5): [1, 3]}


def test_a_fully_covered_week_has_no_coverage_findings(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    report = validate_coverage(bundle, _full_week(bundle), period=WEEK)
    assert _rules(report.findings) == []
    assert set(report.coverage["status"]) == {"met"}
    # the ward target is 2 on every day but one is assigned: a warning each day
    targets = report.findings[report.findings["rule"] == "coverage_target"]
    assert len(targets) == 7 and set(targets["severity"]) == {"warning"}
    assert targets.iloc[0]["message"] == "DAY on 2027-07-05 has 1 residents on WARD; its target is 2"
    # a soft rule's per-shift finding: its kind, and its date and shift in their own columns
    assert (targets.iloc[0]["kind"], targets.iloc[0]["date"], targets.iloc[0]["shift_id"]) == (
        "soft",
        "2027-07-05",
        "DAY",
    )


def test_short_and_over_coverage_are_violations_on_the_right_day(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    schedule = _full_week(bundle)
    short = schedule[~((schedule["shift_id"] == "NIGHT") & (schedule["date"] == pd.Timestamp("2027-07-07")))]
    extra = _schedule(bundle, [("R1", "2027-07-06", "NIGHT"), ("R2", "2027-07-08", "DAY"), ("R1", "2027-07-08", "DAY")])
    # R1 on NIGHT is ineligible (WARD) and counts for nothing; DAY on the 8th gets R1 + R2 = 2 (max 2)
    combined = pd.concat([short, extra[extra["shift_id"] == "NIGHT"]], ignore_index=True)
    report = validate_coverage(bundle, combined, period=WEEK)
    found = report.findings[report.findings["severity"] == "violation"]
    assert sorted(zip(found["rule"], found["person_id"], found["window_start"], strict=True)) == [
        ("coverage", "", "2027-07-07"),
        ("rotation_eligibility", "R1", "2027-07-06"),
    ]
    row = found[found["rule"] == "coverage"].iloc[0]
    assert (row["value"], row["limit"], row["unit"]) == (0.0, 1.0, "people")
    assert row["message"] == "NIGHT on 2027-07-07 has 0 residents on NF; it needs at least 1 (coverage.csv row 2)"
    assert (row["kind"], row["date"], row["shift_id"]) == ("hard", "2027-07-07", "NIGHT")
    eligibility = found[found["rule"] == "rotation_eligibility"].iloc[0]
    assert (eligibility["kind"], eligibility["date"], eligibility["shift_id"]) == ("hard", "2027-07-06", "NIGHT")

    over = _schedule(bundle, [("R1", "2027-07-08", "DAY"), ("R2", "2027-07-08", "DAY"), ("R3", "2027-07-08", "DAY")])
    report = validate_coverage(bundle, over, period=(dt.date(2027, 7, 8), dt.date(2027, 7, 8)))
    over_rows = report.findings[
        (report.findings["rule"] == "coverage") & report.findings["message"].str.contains("at most")
    ]
    # R3 is on NF, so only R1 and R2 count for the WARD row: 2 ≤ 2, no over-coverage
    assert over_rows.empty


def test_over_coverage_is_a_violation(tiny_dir: Path) -> None:
    bundle = _bundle(
        tiny_dir,
        coverage__csv="shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\nDAY,daily,WARD,resident,,,0,1,\n",
    )
    schedule = _schedule(bundle, [("R1", "2027-07-08", "DAY"), ("R2", "2027-07-08", "DAY")])
    report = validate_coverage(bundle, schedule, period=(dt.date(2027, 7, 8), dt.date(2027, 7, 8)))
    row = report.findings[report.findings["rule"] == "coverage"].iloc[0]
    assert (row["value"], row["limit"]) == (2.0, 1.0)
    assert row["message"] == "DAY on 2027-07-08 has 2 residents on WARD; at most 1 are allowed (coverage.csv row 1)"
    assert report.coverage.iloc[0]["status"] == "over"


def test_filters_min_pgy_and_skill(tiny_dir: Path) -> None:
    coverage = (
        "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\n"
        "DAY,daily,,resident,2,,1,,\n"
        "DAY,daily,,resident,,procedures,1,,\n"
    )
    bundle = _bundle(tiny_dir, coverage__csv=coverage)
    one_day = (dt.date(2027, 7, 8), dt.date(2027, 7, 8))
    report = validate_coverage(bundle, _schedule(bundle, [("R1", "2027-07-08", "DAY")]), period=one_day)
    assert sorted(report.coverage["assigned"]) == [0, 0]  # R1 is PGY-1 without the skill
    report = validate_coverage(bundle, _schedule(bundle, [("R2", "2027-07-08", "DAY")]), period=one_day)
    assert sorted(report.coverage["assigned"]) == [1, 1]
    assert (
        "of PGY-2 or above"
        in validate_coverage(bundle, _schedule(bundle, []), period=one_day).findings.iloc[0]["message"]
    )


def test_blocking_and_non_blocking_absences(tiny_dir: Path) -> None:
    absences = "person_id,start_date,end_date,type,blocking\nR1,2027-07-05,2027-07-05,vacation,true\nR2,2027-07-06,2027-07-06,conference,false\n"
    bundle = _bundle(tiny_dir, absences__csv=absences)
    schedule = _schedule(
        bundle, [("R1", "2027-07-05", "DAY"), ("R2", "2027-07-06", "DAY"), ("R1", "2027-07-07", "DAY")]
    )
    report = validate_coverage(bundle, schedule, period=WEEK)
    absence = report.findings[report.findings["rule"].isin(["blocking_absence", "work_during_absence"])]
    found = zip(
        absence["rule"], absence["kind"], absence["severity"], absence["person_id"], absence["date"], strict=True
    )
    assert sorted(found) == [
        ("blocking_absence", "hard", "violation", "R1", "2027-07-05"),
        ("work_during_absence", "soft", "info", "R2", "2027-07-06"),  # its own name: no leave rule is broken
    ]
    assert set(absence["shift_id"]) == {"DAY"}
    days = person_days(bundle, *WEEK).set_index(["person_id", "date"])
    assert bool(days.loc[("R1", pd.Timestamp("2027-07-05")), "blocked"]) is True
    assert bool(days.loc[("R2", pd.Timestamp("2027-07-06")), "absent"]) is True


def test_overlapping_shifts_across_midnight(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    # CALL24 from 07:00 with 4 h hand-off runs to 11:00 next day; DAY on that day starts 07:00
    schedule = _schedule(bundle, [("R2", "2027-07-08", "CALL24"), ("R2", "2027-07-09", "DAY")])
    report = validate_coverage(bundle, schedule, period=WEEK)
    overlap = report.findings[report.findings["rule"] == "one_shift_at_a_time"]
    assert list(zip(overlap["person_id"], overlap["window_start"], overlap["value"], strict=True)) == [
        ("R2", "2027-07-09", 4.0)
    ]


def test_supervision_ratio(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    one_day = (dt.date(2027, 7, 8), dt.date(2027, 7, 8))  # a Thursday: DAY has a faculty row
    residents = [("R1", "2027-07-08", "DAY"), ("R2", "2027-07-08", "DAY")]
    report = validate_coverage(bundle, _schedule(bundle, residents), period=one_day)
    ratio = report.findings[report.findings["rule"] == "supervision_ratio"]
    assert list(zip(ratio["value"], ratio["limit"], strict=True)) == [(0.0, 1.0)]
    assert ratio.iloc[0]["message"] == "DAY on 2027-07-08 has 0 faculty for 1 PGY-1 and 1 other residents; it needs 1"
    with_faculty = _schedule(bundle, [*residents, ("F1", "2027-07-08", "DAY")])
    report = validate_coverage(bundle, with_faculty, period=one_day)
    assert (report.findings["rule"] == "supervision_ratio").sum() == 0
    skipped = validate_coverage(bundle, _schedule(bundle, residents), period=one_day, supervision=None)
    assert (skipped.findings["rule"] == "supervision_ratio").sum() == 0


def test_utilisation_is_required_over_available_hours(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    report = validate_coverage(bundle, _full_week(bundle), period=WEEK)
    monday = report.utilisation.set_index("date").loc[pd.Timestamp("2027-07-05")]
    # required: ward DAY 1 × 12 h + NF NIGHT 1 × 12 h + faculty DAY 1 × 12 h = 36 h;
    # available: R1, R2 (WARD: DAY), R3 (NF: NIGHT) at 80/7 h and F1 (faculty shifts) at 0.8 × 80/7 h
    assert monday["required_hours"] == 36.0
    assert monday["available_hours"] == pytest.approx(3.8 * 80 / 7, abs=0.01)
    assert monday["utilisation"] == pytest.approx(36 / (3.8 * 80 / 7), abs=1e-3)
    assert monday["band"] == "orange"  # 36 of 43.4 h
    assert list(report.blocks["block_id"]) == ["B1"]


def test_utilisation_bands_and_warnings(tiny_dir: Path) -> None:
    assert [band_of(x) for x in (0.0, 0.6999, 0.70, 0.79, 0.80, 0.899, 0.90, 0.95, 0.951, 3.0)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "orange",
        "orange",
        "red",
        "red",
        "black",
        "black",
    ]
    absences = "person_id,start_date,end_date,type,blocking\nR1,2027-07-01,2027-07-28,vacation,true\nR2,2027-07-01,2027-07-28,vacation,true\n"
    bundle = _bundle(tiny_dir, absences__csv=absences)
    report = validate_coverage(bundle, _schedule(bundle, []), period=WEEK)
    # no ward resident is available: the ward's 12 h cannot be met by anyone
    assert set(report.utilisation["band"]) <= {"red", "black"}
    warnings = report.findings[(report.findings["rule"] == "utilisation") & (report.findings["severity"] == "warning")]
    assert len(warnings) >= 7
    # utilisation is no rule: a warning of it is soft, and it covers days, not one shift
    assert set(warnings["kind"]) == {"soft"}
    assert warnings["date"].isna().all() and warnings["shift_id"].isna().all()


def test_shift_hours_follow_daylight_saving(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    hours = shift_hours(bundle, dt.date(2027, 11, 6), dt.date(2027, 11, 7)).set_index(["date", "shift_id"])["hours"]
    assert hours[(pd.Timestamp("2027-11-06"), "NIGHT")] == 13.0  # New York falls back on 7 November 2027
    assert hours[(pd.Timestamp("2027-11-07"), "NIGHT")] == 12.0
    assert hours[(pd.Timestamp("2027-11-06"), "CALL24")] == 29.0  # 25 h + 4 h hand-off
    assert hours[(pd.Timestamp("2027-11-06"), "HOME")] == 2.0


def test_an_empty_schedule_needs_a_period(tiny_dir: Path) -> None:
    bundle = _bundle(tiny_dir)
    with pytest.raises(ValueError, match="explicit period"):
        validate_coverage(bundle, _schedule(bundle, []))
