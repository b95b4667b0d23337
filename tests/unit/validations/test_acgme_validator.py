"""The independent ACGME checker (validations.acgme): each rule at its limit and just over it."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from rotaflow.validations.acgme import (
    AcgmeLimits,
    AcgmeReport,
    RuleScope,
    limits_for,
    validate_acgme,
)
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.contracts import FINDING_COLUMNS, FindingsModel
from rotaflow.validations.schedule import load_schedule

JULY = dt.date(2027, 7, 1)
NEW_YORK = "America/New_York"
RULES = (
    "acgme_weekly_hours",
    "acgme_day_off_in_seven",
    "acgme_max_continuous_duty",
    "acgme_rest_after_call",
    "acgme_rest_between_shifts",
    "acgme_call_frequency",
    "acgme_pgy1_no_moonlighting",
)
SHIFT_HEADER = "shift_id,name,start,end,transition_minutes,kind,in_house_call,counts_as_work,home_call_hours"
SHIFTS = [
    "DAY,Day,07:00,19:00,0,day,false,true,",
    "NIGHT,Night,19:00,07:00,0,night,false,true,",
    "CALL24,Call,07:00,07:00,240,call,true,true,",
    "HOME,Home call,17:00,07:00,0,home_call,false,true,2",
    "EVE,Evening,19:00,23:00,0,day,false,true,",
    "CALL,Short call,17:00,22:00,0,call,true,true,",
    "MOONLIGHT,Moonlighting,18:00,23:00,0,admin,false,true,",
]


def shift(shift_id: str, start: str, hours: float, transition: int = 0, kind: str = "day", call: bool = False) -> str:
    """A shifts.csv row starting at ``start`` (HH:MM) and lasting ``hours`` (under 24) on the clock."""
    begin = int(start[:2]) * 60 + int(start[3:])
    end = (begin + round(hours * 60)) % (24 * 60)
    return f"{shift_id},{shift_id},{start},{end // 60:02d}:{end % 60:02d},{transition},{kind},{str(call).lower()},true,"


def make_bundle(
    folder: Path,
    *,
    timezone: str = NEW_YORK,
    start: dt.date = JULY,
    days: int = 28,
    residents: dict[str, int] | None = None,
    faculty: tuple[str, ...] = (),
    shifts: list[str] | None = None,
    rotation: dict[str, str] | None = None,
    absences: list[str] = (),  # type: ignore[assignment]
    history: list[tuple[str, dt.date, str]] = (),  # type: ignore[assignment]
    constraints: dict[str, Any] | None = None,
    acgme: dict[str, Any] | None = None,
) -> Bundle:
    """A small program written into ``folder`` and read back: block B0 (the 4 weeks before), B1, B2."""
    residents = residents if residents is not None else {"R1": 2, "R2": 2, "R3": 1}
    shift_rows = SHIFTS + (shifts or [])
    ids = [row.split(",")[0] for row in shift_rows]
    b0 = start - dt.timedelta(days=28)
    b1_end = start + dt.timedelta(days=days - 1)
    b2_end = b1_end + dt.timedelta(days=28)
    rotation = rotation or {}
    files = {
        "program.yaml": yaml.safe_dump(
            {"name": "Validator Test Program", "timezone": timezone, **({"acgme": acgme} if acgme else {})}
        ),
        "people.csv": "person_id,name,email,role,pgy,fte,skills\n"
        + "".join(f"{r},Resident {r},{r.lower()}@example.org,resident,{pgy},1,\n" for r, pgy in residents.items())
        + "".join(f"{f},Faculty {f},,faculty,,1,\n" for f in faculty),
        "blocks.csv": f"block_id,start_date,end_date\nB0,{b0},{start - dt.timedelta(days=1)}\nB1,{start},{b1_end}\n"
        f"B2,{b1_end + dt.timedelta(days=1)},{b2_end}\n",
        "shifts.csv": SHIFT_HEADER + "\n" + "".join(row + "\n" for row in shift_rows),
        "rotations.csv": "rotation_id,name,setting,eligible_shifts\n"
        f"ROT,Ward,inpatient,{';'.join(ids)}\nCLIN,Clinic,outpatient,{';'.join(ids)}\nVAC,Vacation,leave,\n",
        "rotation_assignments.csv": "person_id,block_id,rotation_id\n"
        + "".join(
            f"{r},{b},{rotation.get(r, 'ROT') if b == 'B1' else 'ROT'}\n" for r in residents for b in ("B0", "B1", "B2")
        ),
        "coverage.csv": "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\nDAY,daily,,,,,0,,\n",
        "absences.csv": "person_id,start_date,end_date,type,blocking\n" + "".join(a + "\n" for a in absences),
        "history.csv": "person_id,date,shift_id\n" + "".join(f"{p},{d},{s}\n" for p, d, s in history),
    }
    if constraints is not None:
        files["constraints.yaml"] = yaml.safe_dump(constraints)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def schedule(rows: list[tuple[str, dt.date, str]]) -> pd.DataFrame:
    return pd.DataFrame([(p, d.isoformat(), s) for p, d, s in rows], columns=["person_id", "date", "shift_id"])


def day(n: int, start: dt.date = JULY) -> dt.date:
    return start + dt.timedelta(days=n)


def check(
    bundle: Bundle,
    rows: list[tuple[str, dt.date, str]],
    *,
    period: tuple[dt.date, dt.date] | None = None,
    rule: str | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    report = validate_acgme(bundle, load_schedule(bundle, schedule(rows)), period=period, **kwargs)
    found = report.findings
    return found if rule is None else found[found["rule"] == rule].reset_index(drop=True)


def keys(found: pd.DataFrame, severity: str | None = "violation") -> set[tuple[str, str, str, str]]:
    if severity is not None:
        found = found[found["severity"] == severity]
    return {
        (r.rule, r.person_id, r.window_start.date().isoformat(), r.window_end.date().isoformat())
        for r in found.itertuples()
    }


def window(found: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    return found[(found["window_start"] == pd.Timestamp(first)) & (found["window_end"] == pd.Timestamp(last))]


def only(limits: AcgmeLimits, *fields: str) -> AcgmeLimits:
    """The limits with every rule but ``fields`` switched off."""
    data = limits.model_dump()
    for name in data:
        data[name]["enabled"] = name in fields
    return AcgmeLimits.model_validate(data)


@pytest.fixture
def bundle(tmp_path: Path) -> Bundle:
    return make_bundle(tmp_path / "program")


# --------------------------------------------------------------------------- acgme_weekly_hours

FOUR_WEEKS = (JULY, day(27))


@pytest.mark.parametrize(
    ("extra_hours", "severity", "limit"),
    [
        (0.0, None, None),  # 300 h: 75.0 a week is not above the first early-warning level
        (0.5, "info", 75.0),  # 300.5 h
        (12.0, "info", 75.0),  # 312 h: exactly 78 a week
        (12.5, "warning", 78.0),  # 312.5 h
        (20.0, "warning", 78.0),  # 320 h: exactly 80 a week, at the limit
        (20.5, "violation", 80.0),  # 320.5 h: just over
    ],
)
def test_weekly_hours_at_each_level_and_just_over(
    tmp_path: Path, extra_hours: float, severity: str | None, limit: float | None
) -> None:
    extra = [shift("EXTRA", "03:00", extra_hours)] if extra_hours else []
    bundle = make_bundle(tmp_path / "b", shifts=extra)
    rows = [("R1", day(n), "DAY") for n in range(25)] + ([("R1", day(26), "EXTRA")] if extra_hours else [])
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_weekly_hours")
    found = found[found["unit"] == "hours_per_week"]  # the 4-week averages (single weeks are in hours)
    whole = window(found, JULY, day(27))
    if severity is None:
        assert found.empty
        return
    total = 300 + extra_hours
    assert whole[["severity", "value", "limit", "unit"]].values.tolist() == [
        [severity, round(total / 4, 2), limit, "hours_per_week"]
    ]
    # no window is judged more severe than the four weeks that hold every hour
    order = {"violation": 0, "warning": 1, "info": 2}
    assert min(found["severity"].map(order)) == order[severity]
    assert whole["message"].iloc[0].startswith(f"R1 averages {total / 4:.1f} h a week from 2027-07-01 to 2027-07-28")


def test_an_average_cannot_hide_a_heavy_week(bundle: Bundle) -> None:
    rows = [("R1", day(n), "DAY") for n in range(7)] + [("R1", day(n), "EVE") for n in range(7)]  # 112 h in week 1
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_weekly_hours")
    week = window(found, JULY, day(6))
    assert week[["severity", "value", "limit", "unit"]].values.tolist() == [["info", 112.0, 80.0, "hours"]]
    assert "R1 works 112.0 h in the week from 2027-07-01 to 2027-07-07" in week["message"].iloc[0]
    assert keys(found) == set()  # 112 h in 28 days is well within the average


def test_leave_days_leave_the_average_when_the_program_says_so(tmp_path: Path) -> None:
    absences = ["R1,2027-07-22,2027-07-28,vacation,true", "R2,2027-07-22,2027-07-28,conference,false"]
    rows = [(p, day(n), "DAY") for p in ("R1", "R2") for n in range(21)]  # 252 h in the 21 working days
    excluded = make_bundle(tmp_path / "on", absences=absences)
    found = check(excluded, rows, period=FOUR_WEEKS, rule="acgme_weekly_hours")
    # 21 non-leave days: limit 80 x 21/7 = 240 h = 60 a week over four weeks; a non-blocking absence is not leave
    assert window(found[found["severity"] == "violation"], JULY, day(27))[
        ["person_id", "value", "limit"]
    ].values.tolist() == [["R1", 63.0, 60.0]]
    assert "R2" not in set(found.loc[found["severity"] == "violation", "person_id"])
    included = make_bundle(tmp_path / "off", absences=absences, acgme={"leave_excluded_from_average": False})
    assert keys(check(included, rows, period=FOUR_WEEKS, rule="acgme_weekly_hours")) == set()


def test_a_leave_rotation_is_leave_too(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", rotation={"R1": "VAC"})
    found = check(bundle, [("R1", JULY, "DAY")], period=FOUR_WEEKS, rule="acgme_weekly_hours")
    # every day of the block is leave: any work breaks a limit of 0
    assert ("acgme_weekly_hours", "R1", "2027-07-01", "2027-07-28") in keys(found)
    assert window(found, JULY, day(27))["limit"].tolist() == [0.0]


def test_block_averaging_judges_fixed_blocks_from_the_period_start(tmp_path: Path) -> None:
    rows = [("R1", day(n), "DAY") for n in range(14, 42)] + [("R1", day(n), "EVE") for n in range(14, 42)]  # 448 h
    period = (JULY, day(55))
    rolling = make_bundle(tmp_path / "rolling")
    assert ("acgme_weekly_hours", "R1", "2027-07-15", "2027-08-11") in keys(check(rolling, rows, period=period))
    block = make_bundle(tmp_path / "block", acgme={"averaging": "block"})
    found = check(block, rows, period=period, rule="acgme_weekly_hours")
    # each block holds 14 of the 28 heavy days: 224 h, 56 a week
    assert keys(found) == set()
    report = validate_acgme(block, load_schedule(block, schedule(rows)), period=period)
    r1 = report.windows[report.windows["person_id"] == "R1"]
    assert r1[["window_start", "window_end", "hours"]].values.tolist() == [
        [pd.Timestamp("2027-07-01"), pd.Timestamp("2027-07-28"), 224.0],
        [pd.Timestamp("2027-07-29"), pd.Timestamp("2027-08-25"), 224.0],
    ]
    heavy = rows + [("R1", day(n), "NIGHT") for n in range(28, 42)]
    assert keys(check(block, heavy, period=period, rule="acgme_weekly_hours")) == {
        ("acgme_weekly_hours", "R1", "2027-07-29", "2027-08-25")
    }


def test_history_before_the_block_counts_in_the_windows_that_reach_back(tmp_path: Path) -> None:
    history = [("R1", day(n), "DAY") for n in range(-26, 0)]  # 312 h in the 26 days before the block
    bundle = make_bundle(tmp_path / "b", history=history)
    found = check(bundle, [("R1", JULY, "DAY")], period=FOUR_WEEKS, rule="acgme_weekly_hours")
    # the two windows that hold all 26 days of history and the first day: 324 h
    reach_back = {
        ("acgme_weekly_hours", "R1", "2027-06-04", "2027-07-01"),
        ("acgme_weekly_hours", "R1", "2027-06-05", "2027-07-02"),
    }
    assert keys(found) == reach_back
    assert window(found, day(-27), JULY)[["value", "limit"]].values.tolist() == [[81.0, 80.0]]
    # history alone over the limit is not this schedule's violation
    heavy = make_bundle(tmp_path / "heavy", history=history + [("R1", day(n), "EVE") for n in range(-26, 0)])
    assert keys(check(heavy, [("R1", day(27), "DAY")], period=FOUR_WEEKS, rule="acgme_weekly_hours")) == set()
    # history passed in counts like history.csv; the schedule's own rows before the period count too
    plain = make_bundle(tmp_path / "plain")
    passed = schedule(history)
    found = check(plain, [("R1", JULY, "DAY")], period=FOUR_WEEKS, rule="acgme_weekly_hours", history=passed)
    assert keys(found) == reach_back
    found = check(plain, history + [("R1", JULY, "DAY")], period=FOUR_WEEKS, rule="acgme_weekly_hours")
    assert keys(found) == reach_back


def test_a_shift_across_midnight_is_split_by_elapsed_time_even_at_the_autumn_change(tmp_path: Path) -> None:
    first = dt.date(2027, 11, 7)  # New York falls back at 02:00: the night of the 6th lasts 13 h
    bundle = make_bundle(tmp_path / "b", start=first, history=[("R1", dt.date(2027, 11, 6), "NIGHT")])
    report = validate_acgme(
        bundle, load_schedule(bundle, schedule([("R1", first, "DAY")])), period=(first, day(27, first))
    )
    weekly = report.weekly[report.weekly["person_id"] == "R1"]
    # the week from 11-07 holds the night's 8 h after local midnight (00:00 EDT to 07:00 EST) and the 12-h day
    assert weekly["hours"].tolist() == [20.0, 0.0, 0.0, 0.0]
    assert weekly["limit"].tolist() == [80.0] * 4
    window_hours = report.windows.set_index(["person_id", "window_start"])["hours"]
    assert window_hours[("R1", pd.Timestamp("2027-10-11"))] == 25.0  # up to 11-07: the whole 13-h night and the day
    assert window_hours[("R1", pd.Timestamp("2027-11-07"))] == 20.0


@pytest.mark.parametrize(("first", "hours"), [(dt.date(2027, 3, 10), 83.0), (dt.date(2027, 11, 3), 85.0), (JULY, 84.0)])
def test_a_week_of_nights_over_a_daylight_saving_change_is_an_hour_shorter_or_longer(
    tmp_path: Path, first: dt.date, hours: float
) -> None:
    bundle = make_bundle(tmp_path / "b", start=first)
    rows = [("R1", day(n, first), "NIGHT") for n in range(7)]
    report = validate_acgme(bundle, load_schedule(bundle, schedule(rows)), period=(first, day(6, first)))
    assert report.windows.loc[report.windows["person_id"] == "R1", "hours"].max() == hours
    # the week's own total leaves out the last night's 7 hours after the week's last midnight
    assert report.weekly.loc[report.weekly["person_id"] == "R1", "hours"].tolist() == [hours - 7]


def test_the_weekly_table_has_each_week_and_the_four_week_average_it_closes(bundle: Bundle) -> None:
    rows = [("R1", day(n), "DAY") for n in range(0, 28, 2)]
    report = validate_acgme(bundle, load_schedule(bundle, schedule(rows)), period=FOUR_WEEKS)
    r1 = report.weekly[report.weekly["person_id"] == "R1"]
    assert r1["hours"].tolist() == [48.0, 36.0, 48.0, 36.0]
    assert r1["average_4w"].tolist() == [12.0, 21.0, 33.0, 42.0]
    assert set(report.weekly["person_id"]) == {"R1", "R2", "R3"}
    assert list(report.weekly.columns) == ["person_id", "week_start", "week_end", "hours", "average_4w", "limit"]


# --------------------------------------------------------------------------- acgme_day_off_in_seven


@pytest.mark.parametrize(("late", "free"), [("19:00", 4), ("18:54", 3)])
def test_a_free_day_is_24_hours_not_23_9(tmp_path: Path, late: str, free: int) -> None:
    """Days 0-27 worked 07-19 except three whole days off (36-h gaps) and one 24.0 or 23.9-h gap."""
    bundle = make_bundle(tmp_path / "b", shifts=[shift("LATE", late, 4)])
    off = {5, 12, 19}
    rows = [("R1", day(n), "DAY") for n in range(28) if n not in off | {24}] + [("R1", day(24), "LATE")]
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_day_off_in_seven")
    if free == 4:
        assert found.empty
    else:
        assert found[["person_id", "window_start", "value", "limit", "unit"]].values.tolist() == [
            ["R1", pd.Timestamp(JULY), 3.0, 4.0, "days_off"]
        ]
        assert found["message"].iloc[0] == (
            "R1 has 3 free 24-hour periods from 2027-07-01 to 2027-07-28; at least 4 are required"
        )


@pytest.mark.parametrize(("late", "violations"), [("19:00", set()), ("18:54", {("R1", "2027-07-01", "2027-07-07")})])
def test_strict_weekly_needs_a_24_hour_gap_in_every_7_days(tmp_path: Path, late: str, violations: set[Any]) -> None:
    constraints = {"rules": [{"rule": "acgme_day_off_in_seven", "params": {"variant": "strict_weekly"}}]}
    bundle = make_bundle(tmp_path / "b", shifts=[shift("LATE", late, 4)], constraints=constraints)
    rows = [("R1", day(n), "DAY") for n in (0, 1, 2, 4, 5, 6)] + [("R1", day(3), "LATE")]
    found = check(bundle, rows, period=(JULY, day(6)), rule="acgme_day_off_in_seven")
    assert {
        (r.person_id, str(r.window_start.date()), str(r.window_end.date())) for r in found.itertuples()
    } == violations


@pytest.mark.parametrize(("first", "violations"), [(dt.date(2027, 11, 3), 0), (dt.date(2027, 10, 27), 1)])
def test_23_clock_hours_are_a_free_day_when_the_clocks_fall_back_in_between(
    tmp_path: Path, first: dt.date, violations: int
) -> None:
    """Day shifts all week; on day 4 only a shift from 18:00, 23 clock hours after the day before ended."""
    constraints = {"rules": [{"rule": "acgme_day_off_in_seven", "params": {"variant": "strict_weekly"}}]}
    bundle = make_bundle(tmp_path / "b", start=first, shifts=[shift("SIX", "18:00", 4)], constraints=constraints)
    rows = [("R1", day(n, first), "DAY") for n in (0, 1, 2, 3, 5, 6)] + [("R1", day(4, first), "SIX")]
    found = check(bundle, rows, period=(first, day(6, first)), rule="acgme_day_off_in_seven")
    assert len(found) == violations  # 2027-11-07 has 25 hours: 19:00 EDT to 18:00 EST is 24 h


def test_home_call_is_not_free_time_and_history_is_busy_time(tmp_path: Path) -> None:
    history = [("R1", day(n), "DAY") for n in range(-27, 0)]
    bundle = make_bundle(tmp_path / "b", history=history)
    rows = [("R1", day(n), "DAY") for n in range(7)]
    found = check(bundle, rows, period=(JULY, day(6)), rule="acgme_day_off_in_seven")
    # the window ending on the first day holds only the free time before the first shift after history
    assert ("acgme_day_off_in_seven", "R1", "2027-06-04", "2027-07-01") in keys(found)
    inside = found["window_end"].dt.date <= day(6)
    assert set(found[inside]["value"]) == {0.0}
    # windows running past the span count the days after it as free: 1 to 3 of the 4 needed
    assert set(found[~inside]["value"]) == {1.0, 2.0, 3.0}
    home = check(
        bundle, [("R1", day(n), "HOME") for n in range(7)], period=(JULY, day(6)), rule="acgme_day_off_in_seven"
    )
    assert not home.empty


# --------------------------------------------------------------------------- acgme_max_continuous_duty


@pytest.mark.parametrize(
    ("extra", "rows", "expected"),
    [
        # a 24-hour call with its 4-hour hand-off: exactly 24 + 4
        ([], [("CALL24", 0)], None),
        # a day and a night one minute longer, back to back: 24 h and one minute scheduled
        ([shift("LONGN", "19:00", 12 + 1 / 60)], [("DAY", 0), ("LONGN", 0)], (24.02, 24.0)),
        # day then night back to back (gap 0): one 24-h period; a day after it makes 36 h
        ([], [("DAY", 0), ("NIGHT", 0)], None),
        ([], [("DAY", 0), ("NIGHT", 0), ("DAY", 1)], (36.0, 24.0)),
        # 12 h + 4 h hand-off, then 8 h + 4 h starting as the hand-off ends: 20 h scheduled, 28 h in all
        ([shift("A", "07:00", 12, 240), shift("B", "23:00", 8, 240)], [("A", 0), ("B", 0)], None),
        ([shift("A", "07:00", 12, 240), shift("B", "23:00", 8 + 1 / 60, 240)], [("A", 0), ("B", 0)], (28.02, 28.0)),
        # a shift starting during the call's hand-off joins the call's duty
        ([shift("TEACH", "10:00", 1)], [("CALL24", 0), ("TEACH", 1)], (25.0, 24.0)),
        # one minute of rest between them: two periods
        ([shift("LATE", "19:01", 11 + 59 / 60)], [("DAY", 0), ("LATE", 0)], None),
    ],
)
def test_continuous_duty_at_24_plus_4_and_just_over(
    tmp_path: Path, extra: list[str], rows: list[tuple[str, int]], expected: tuple[float, float] | None
) -> None:
    bundle = make_bundle(tmp_path / "b", shifts=extra)
    found = check(bundle, [("R1", day(d), s) for s, d in rows], period=FOUR_WEEKS, rule="acgme_max_continuous_duty")
    if expected is None:
        assert found.empty
    else:
        assert found[["value", "limit", "unit"]].values.tolist() == [[*expected, "hours"]]
        assert found["window_start"].iloc[0] == pd.Timestamp(JULY)


def test_a_24_hour_call_over_the_autumn_change_lasts_25_hours(tmp_path: Path) -> None:
    first = dt.date(2027, 11, 1)
    bundle = make_bundle(tmp_path / "b", start=first)
    found = check(
        bundle,
        [("R1", dt.date(2027, 11, 6), "CALL24")],
        period=(first, day(27, first)),
        rule="acgme_max_continuous_duty",
    )
    assert found[["window_start", "value", "limit"]].values.tolist() == [[pd.Timestamp("2027-11-06"), 25.0, 24.0]]
    assert found["message"].iloc[0] == (
        "R1 is on duty 25.0 h scheduled (29.0 h with transition) from 2027-11-06 to 2027-11-06, over the limit of 24.0 h"
    )


def test_a_period_that_began_in_history_is_judged_with_it(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", history=[("R1", day(-1), "NIGHT")])
    found = check(
        bundle, [("R1", JULY, "DAY"), ("R1", JULY, "NIGHT")], period=FOUR_WEEKS, rule="acgme_max_continuous_duty"
    )
    assert found[["window_start", "window_end", "value"]].values.tolist() == [
        [pd.Timestamp(JULY), pd.Timestamp(JULY), 36.0]
    ]


# --------------------------------------------------------------------------- rest after call and between shifts


@pytest.mark.parametrize(("start", "gap"), [("01:00", None), ("00:54", 13.9)])
def test_rest_after_a_24_hour_call_is_14_hours(tmp_path: Path, start: str, gap: float | None) -> None:
    """The call ends with its hand-off at 11:00 on day 1; the next shift starts on day 2."""
    bundle = make_bundle(tmp_path / "b", shifts=[shift("EARLY", start, 6)])
    found = check(
        bundle, [("R1", JULY, "CALL24"), ("R1", day(2), "EARLY")], period=FOUR_WEEKS, rule="acgme_rest_after_call"
    )
    if gap is None:
        assert found.empty
    else:
        assert found[["window_start", "window_end", "value", "limit"]].values.tolist() == [
            [pd.Timestamp(day(2)), pd.Timestamp(day(2)), gap, 14.0]
        ]
        assert found["message"].iloc[0] == (
            "R1 starts EARLY on 2027-07-03 13.9 h after a 24-hour call; at least 14.0 h of rest are required"
        )


def test_rest_after_a_call_in_history_and_after_a_23_hour_spring_call(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", history=[("R1", day(-1), "CALL24")])
    found = check(bundle, [("R1", JULY, "EVE")], period=FOUR_WEEKS, rule="acgme_rest_after_call")
    assert found[["window_start", "value"]].values.tolist() == [[pd.Timestamp(JULY), 8.0]]
    first = dt.date(2027, 3, 13)  # the call of 03-13 lasts 23 h: still a 24-hour call
    spring = make_bundle(tmp_path / "spring", start=first)
    found = check(
        spring,
        [("R1", first, "CALL24"), ("R1", day(1, first), "EVE")],
        period=(first, day(27, first)),
        rule="acgme_rest_after_call",
    )
    assert found[["window_start", "value"]].values.tolist() == [[pd.Timestamp("2027-03-14"), 8.0]]


@pytest.mark.parametrize(
    ("start", "gap"),
    [("07:00", 12.0), ("08:59", 13.98), ("09:00", None)],
    ids=["12h-the-reported-case", "one-minute-short", "exactly-14h"],
)
def test_rest_after_call_runs_from_the_end_of_the_whole_duty_period(
    tmp_path: Path, start: str, gap: float | None
) -> None:
    """Call 07:00-07:00 (hand-off to 11:00), a day shift from 07:00 that joins it (to 19:00 on day 1): rest owed
    from 19:00, whatever was chained onto the call."""
    bundle = make_bundle(tmp_path / "b", shifts=[shift("NEXT", start, 6)])
    rows = [("R1", JULY, "CALL24"), ("R1", day(1), "DAY"), ("R1", day(2), "NEXT")]
    found = check(bundle, rows, period=FOUR_WEEKS)
    rest = found[found["rule"] == "acgme_rest_after_call"]
    if gap is None:
        assert rest.empty
    else:
        assert rest[["window_start", "window_end", "value", "limit"]].values.tolist() == [
            [pd.Timestamp(day(2)), pd.Timestamp(day(2)), gap, 14.0]
        ]
    assert "acgme_max_continuous_duty" in set(found["rule"])  # 36 h of duty, reported on its own


def test_rest_after_call_follows_a_period_that_began_with_a_call_in_history(tmp_path: Path) -> None:
    """The call of the day before the block, then a day shift on day 0 inside its hand-off: rest from 19:00."""
    bundle = make_bundle(tmp_path / "b", history=[("R1", day(-1), "CALL24")])
    found = check(bundle, [("R1", JULY, "DAY"), ("R1", day(1), "DAY")], period=FOUR_WEEKS, rule="acgme_rest_after_call")
    assert found[["window_start", "value"]].values.tolist() == [[pd.Timestamp(day(1)), 12.0]]
    later = check(bundle, [("R1", JULY, "DAY"), ("R1", day(2), "DAY")], period=FOUR_WEEKS, rule="acgme_rest_after_call")
    assert later.empty


@pytest.mark.parametrize(("start", "gap"), [("07:00", None), ("06:54", 7.9)])
def test_rest_between_shifts_is_8_hours_and_only_a_warning(tmp_path: Path, start: str, gap: float | None) -> None:
    bundle = make_bundle(tmp_path / "b", shifts=[shift("DAWN", start, 3)])
    found = check(
        bundle,
        [("R1", JULY, "NIGHT"), ("R1", day(1), "EVE"), ("R1", day(2), "DAWN")],
        period=FOUR_WEEKS,
        rule="acgme_rest_between_shifts",
    )
    if gap is None:
        assert found.empty
    else:
        assert found[["severity", "window_start", "value", "limit"]].values.tolist() == [
            ["warning", pd.Timestamp(day(2)), gap, 8.0]
        ]


def test_rest_is_measured_from_the_end_of_the_whole_work_period(tmp_path: Path) -> None:
    """A short shift inside a long one does not end the period: rest counts from the long one's end."""
    bundle = make_bundle(tmp_path / "b", shifts=[shift("INSIDE", "09:00", 2), shift("AFTERNOON", "15:00", 4)])
    rows = [("R1", JULY, "CALL24"), ("R1", JULY, "INSIDE"), ("R1", day(1), "AFTERNOON")]
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_rest_between_shifts")
    # the call ends with its hand-off at 11:00 on day 1, four hours before the afternoon shift
    assert found[["window_start", "value"]].values.tolist() == [[pd.Timestamp(day(1)), 4.0]]


# --------------------------------------------------------------------------- acgme_call_frequency


@pytest.mark.parametrize(
    ("calls", "expected"), [(9, set()), (10, {("acgme_call_frequency", "R1", "2027-07-01", "2027-07-28")})]
)
def test_nine_calls_in_28_days_and_not_ten(bundle: Bundle, calls: int, expected: set[Any]) -> None:
    rows = [("R1", day(3 * n), "CALL") for n in range(calls)]
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_call_frequency")
    assert keys(found) == expected
    if expected:
        assert found[["value", "limit", "unit"]].values.tolist() == [[10.0, 9.0, "calls"]]
        assert found["message"].iloc[0] == "R1 has 10 in-house calls from 2027-07-01 to 2027-07-28, more than 9"


def test_home_call_is_exempt_and_history_calls_count(tmp_path: Path) -> None:
    history = [("R1", day(-n), "CALL") for n in (1, 4, 7, 10, 13)]
    bundle = make_bundle(tmp_path / "b", history=history)
    rows = [("R1", day(n), "HOME") for n in range(0, 27, 2)] + [("R1", day(n), "CALL") for n in (1, 4, 7, 10, 13)]
    found = check(bundle, rows, period=FOUR_WEEKS, rule="acgme_call_frequency")
    # 5 past and 5 new calls from 06-18 to 07-14: the two windows holding all ten; the 14 home calls do not count
    assert keys(found) == {
        ("acgme_call_frequency", "R1", "2027-06-17", "2027-07-14"),
        ("acgme_call_frequency", "R1", "2027-06-18", "2027-07-15"),
    }


# --------------------------------------------------------------------------- acgme_pgy1_no_moonlighting


def test_a_pgy1_resident_may_not_moonlight(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", residents={"R1": 1, "R2": 2})
    found = check(bundle, [("R1", day(3), "MOONLIGHT"), ("R2", day(3), "MOONLIGHT")], period=FOUR_WEEKS)
    assert keys(found) == {("acgme_pgy1_no_moonlighting", "R1", "2027-07-04", "2027-07-04")}
    assert found[found["rule"] == "acgme_pgy1_no_moonlighting"]["message"].tolist() == [
        "PGY-1 resident R1 holds the moonlighting shift MOONLIGHT on 2027-07-04; the limit for PGY-1 is 0"
    ]
    named = make_bundle(
        tmp_path / "named",
        residents={"R1": 1},
        constraints={"rules": [{"rule": "acgme_pgy1_no_moonlighting", "params": {"shifts": ["EVE"]}}]},
    )
    assert keys(check(named, [("R1", day(3), "EVE"), ("R1", day(4), "MOONLIGHT")], period=FOUR_WEEKS)) == {
        ("acgme_pgy1_no_moonlighting", "R1", "2027-07-04", "2027-07-04")
    }


# --------------------------------------------------------------------------- a whole schedule


def clean_rows() -> list[tuple[str, dt.date, str]]:
    """Four weeks within every rule: a day shift five days a week, a call every fifth day for R3."""
    rows = []
    for person in ("R1", "R2"):
        rows += [(person, day(n), "DAY") for n in range(28) if n % 7 < 5]
    rows += [("R3", day(n), "CALL24") for n in range(0, 28, 5)]
    return rows


INJECTED = [
    # (rows added, every violation expected)
    (
        [("R1", day(n), "EVE") for n in range(28) if n % 7 < 5] + [("R1", day(5), "EVE")],  # 324 h over days 0-25
        {
            ("acgme_weekly_hours", "R1", f"2027-{a}", f"2027-{b}")
            for a, b in (("06-29", "07-26"), ("06-30", "07-27"), ("07-01", "07-28"))
        },
    ),
    (
        [("R2", day(n), "DAY") for n in (5, 6, 12, 13, 19)],  # two free periods left, both at the end
        {
            ("acgme_day_off_in_seven", "R2", f"2027-{a}", f"2027-{b}")
            for a, b in (("06-29", "07-26"), ("06-30", "07-27"), ("07-01", "07-28"))
        },
    ),
    ([("R1", day(9), "NIGHT")], {("acgme_max_continuous_duty", "R1", "2027-07-10", "2027-07-11")}),
    ([("R3", day(6), "EVE")], {("acgme_rest_after_call", "R3", "2027-07-07", "2027-07-07")}),
    ([("R3", day(n), "CALL") for n in (8, 13, 17, 27)], {("acgme_call_frequency", "R3", "2027-07-01", "2027-07-28")}),
    ([("R3", day(8), "MOONLIGHT")], {("acgme_pgy1_no_moonlighting", "R3", "2027-07-09", "2027-07-09")}),
]


def test_a_clean_schedule_has_no_violation(bundle: Bundle) -> None:
    assert keys(check(bundle, clean_rows(), period=FOUR_WEEKS)) == set()


@pytest.mark.parametrize(("added", "expected"), INJECTED)
def test_an_injected_violation_is_caught_exactly(bundle: Bundle, added: list[Any], expected: set[Any]) -> None:
    assert keys(check(bundle, clean_rows() + added, period=FOUR_WEEKS)) == expected


def test_findings_keep_the_findings_contract_and_no_personal_data(bundle: Bundle) -> None:
    rows = clean_rows() + [added for rows, _ in INJECTED for added in rows]
    found = check(bundle, rows, period=FOUR_WEEKS)
    assert list(found.columns) == FINDING_COLUMNS
    FindingsModel.validate(found, lazy=True)
    assert set(found["rule"]) <= set(RULES)
    assert found["severity"].iloc[0] == "violation"  # violations first
    for message in found["message"]:
        assert "Resident" not in message and "@" not in message
    for row in found.itertuples():
        assert row.person_id in row.message


# --------------------------------------------------------------------------- limits and scope


def test_limits_come_from_the_program_and_the_rule_set(tmp_path: Path) -> None:
    defaults = limits_for(make_bundle(tmp_path / "plain"))
    assert defaults == AcgmeLimits()
    assert (
        defaults.weekly_hours.limit_hours,
        defaults.weekly_hours.info_hours,
        defaults.weekly_hours.warning_hours,
    ) == (80, 75, 78)
    assert (defaults.day_off_in_seven.min_free_days, defaults.max_continuous_duty.max_total_hours) == (4, 28)
    assert (
        defaults.rest_after_call.min_rest_hours,
        defaults.rest_between_shifts.kind,
        defaults.call_frequency.max_calls,
    ) == (14, "soft", 9)
    bundle = make_bundle(
        tmp_path / "custom",
        acgme={"averaging": "block", "leave_excluded_from_average": False},
        constraints={
            "rules": [
                {
                    "rule": "acgme_weekly_hours",
                    "params": {"limit_hours": 88},
                    "applies_to": {"role": "resident", "pgy": [2, 3]},
                },
                {"rule": "acgme_call_frequency", "enabled": False},
                {"rule": "acgme_rest_after_call", "kind": "soft"},
                {
                    "rule": "acgme_day_off_in_seven",
                    "params": {"variant": "strict_weekly"},
                    "applies_to": {"person_ids": ["R1"]},
                },
            ]
        },
    )
    limits = limits_for(bundle)
    assert (limits.weekly_hours.limit_hours, limits.weekly_hours.pgy, limits.weekly_hours.averaging) == (
        88,
        [2, 3],
        "block",
    )
    assert limits.weekly_hours.leave_excluded_from_average is False
    assert limits.call_frequency.enabled is False
    assert limits.rest_after_call.kind == "soft"
    assert (limits.day_off_in_seven.variant, limits.day_off_in_seven.role, limits.day_off_in_seven.person_ids) == (
        "strict_weekly",
        None,
        ["R1"],
    )
    assert limits.longest_window() == 28


def test_a_soft_rule_reports_warnings_and_a_disabled_rule_nothing(tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path / "b",
        constraints={
            "rules": [
                {"rule": "acgme_rest_after_call", "kind": "soft"},
                {"rule": "acgme_call_frequency", "enabled": False},
            ]
        },
    )
    rows = [("R1", JULY, "CALL24"), ("R1", day(1), "EVE")] + [("R2", day(3 * n), "CALL") for n in range(10)]
    found = check(bundle, rows, period=FOUR_WEEKS)
    assert found.loc[found["rule"] == "acgme_rest_after_call", "severity"].tolist() == ["warning"]
    assert "acgme_call_frequency" not in set(found["rule"])


def test_rules_apply_to_the_people_and_rotations_they_name(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", residents={"R1": 1, "R2": 2}, faculty=("F1",), rotation={"R2": "CLIN"})
    calls = [(p, day(3 * n), "CALL") for p in ("R1", "R2", "F1") for n in range(10)]
    limits = limits_for(bundle)
    assert {
        k[1] for k in keys(check(bundle, calls, period=FOUR_WEEKS, rule="acgme_call_frequency", limits=limits))
    } == {"R1", "R2"}
    everyone = limits.model_copy(deep=True)
    everyone.call_frequency.role = None
    assert {
        k[1] for k in keys(check(bundle, calls, period=FOUR_WEEKS, rule="acgme_call_frequency", limits=everyone))
    } == {"R1", "R2", "F1"}
    seniors = limits.model_copy(deep=True)
    seniors.call_frequency.pgy = [2, 3]
    assert {
        k[1] for k in keys(check(bundle, calls, period=FOUR_WEEKS, rule="acgme_call_frequency", limits=seniors))
    } == {"R2"}
    ward = limits.model_copy(deep=True)
    ward.call_frequency.rotation = ["ROT"]
    ward.weekly_hours.rotation = ["ROT"]
    ward.weekly_hours.person_ids = ["R2"]
    found = check(
        bundle, calls + [(p, day(n), "NIGHT") for p in ("R1", "R2") for n in range(28)], period=FOUR_WEEKS, limits=ward
    )
    assert {k[1] for k in keys(found) if k[0] == "acgme_call_frequency"} == {"R1"}  # R2 is on the clinic rotation
    assert "acgme_weekly_hours" not in {k[0] for k in keys(found)}  # R2 only, and R2 is not on the ward


def test_faculty_are_not_held_to_the_resident_rules_by_default(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", faculty=("F1",))
    rows = [("F1", JULY, "CALL24"), ("F1", day(1), "EVE"), ("F1", day(2), "MOONLIGHT")] + [
        ("F1", day(n), "DAY") for n in range(3, 28)
    ]
    assert check(bundle, rows, period=FOUR_WEEKS).empty


def test_the_scope_model_has_the_selector_fields() -> None:
    assert set(RuleScope.model_fields) == {"enabled", "kind", "role", "pgy", "person_ids", "rotation"}


# --------------------------------------------------------------------------- the report


def test_the_period_defaults_to_the_schedule_and_an_empty_schedule_has_no_findings(bundle: Bundle) -> None:
    report = validate_acgme(bundle, load_schedule(bundle, schedule([("R1", day(2), "DAY"), ("R1", day(9), "DAY")])))
    assert isinstance(report, AcgmeReport)
    assert report.period == (day(2), day(9))
    assert report.ok and report.violations.empty
    empty = validate_acgme(bundle, load_schedule(bundle, b"person_id,date,shift_id\n"))
    assert (empty.period, empty.findings.empty, empty.weekly.empty, empty.windows.empty) == (None, True, True, True)
    assert list(empty.findings.columns) == FINDING_COLUMNS
    quiet = validate_acgme(bundle, pd.DataFrame(), period=FOUR_WEEKS)
    assert quiet.findings.empty and len(quiet.weekly) == 3 * 4


def test_a_three_column_frame_is_loaded_first(bundle: Bundle) -> None:
    rows = [("R1", day(n), "DAY") for n in range(28)]
    report = validate_acgme(bundle, schedule(rows), period=FOUR_WEEKS)
    assert ("acgme_day_off_in_seven", "R1", "2027-07-01", "2027-07-28") in keys(report.findings)


def test_rows_after_the_period_are_not_seen(bundle: Bundle) -> None:
    rows = [("R1", day(n), "DAY") for n in range(56)]
    assert keys(check(bundle, rows, period=(JULY, day(6)), rule="acgme_day_off_in_seven")) == set()


def test_a_period_that_ends_before_it_starts_is_refused(bundle: Bundle) -> None:
    with pytest.raises(ValueError, match="ends"):
        validate_acgme(bundle, schedule([]), period=(day(5), day(1)))


def test_all_rules_off_reports_nothing(bundle: Bundle) -> None:
    off = only(AcgmeLimits())
    report = validate_acgme(
        bundle,
        load_schedule(bundle, schedule([("R1", day(n), "CALL24") for n in range(28)])),
        period=FOUR_WEEKS,
        limits=off,
    )
    assert report.findings.empty and report.weekly.empty and report.windows.empty


def test_the_validator_shares_no_code_with_the_rule_engine() -> None:
    root = Path(__file__).resolve().parents[3] / "validations"
    for name in ("acgme.py", "schedule.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        engine = {
            m
            for m in imported
            if m.startswith("rotaflow.constraints") or m.startswith("rotaflow.validations.instances")
        }
        assert engine <= {"rotaflow.constraints.ruleset"}, (name, engine)
