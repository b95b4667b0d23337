"""From a checked bundle to the rule engine's instance of one block (rotaflow.validations.instances)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from rotaflow.constraints.instance import Demand, Instance, PersonSpec, RequestSpec
from rotaflow.errors import InputError
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.instances import block_instance, coverage_rows_for_day

B1 = dt.date(2027, 7, 1)
WARD = frozenset({"DAY", "CALL24", "HOME"})
UTC = dt.UTC


def edited(files: dict[str, bytes], *, add: dict[str, list[str]] | None = None, **swap: tuple[str, str]) -> Bundle:
    """The bundle with rows appended (``add``) and text replaced (``file_csv=(old, new)``)."""
    out = dict(files)
    for name, rows in (add or {}).items():
        text = out[name].decode()
        out[name] = (text + ("" if text.endswith("\n") else "\n") + "".join(r + "\n" for r in rows)).encode()
    for key, (old, new) in swap.items():
        name = key.replace("_csv", ".csv")
        assert old in out[name].decode(), (name, old)
        out[name] = out[name].decode().replace(old, new).encode()
    return parse_bundle(out)


def day_of(date: str) -> int:
    return (dt.date.fromisoformat(date) - B1).days


def demands_on(inst: Instance, date: str) -> list[Demand]:
    return sorted((d for d in inst.demands if d.day == day_of(date)), key=lambda d: (d.shift, d.label))


@pytest.fixture
def tiny(tiny_files: dict[str, bytes]) -> Bundle:
    return parse_bundle(tiny_files)


@pytest.fixture
def b1(tiny: Bundle) -> Instance:
    return block_instance(tiny, "B1")


# --------------------------------------------------------------------------- the block


def test_the_block_spans_its_dates_in_the_programs_zone(b1: Instance) -> None:
    assert (b1.start, b1.days) == (B1, 28)
    assert b1.date(b1.days - 1) == dt.date(2027, 7, 28)
    assert b1.timezone == "America/New_York"
    assert b1.name == "tiny-internal-medicine-residency/B1"
    assert b1.meta == {
        "acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": True},
        "block_id": "B1",
        "program": "tiny-internal-medicine-residency",
    }


def test_the_second_block_starts_where_the_first_ends(tiny: Bundle) -> None:
    b2 = block_instance(tiny, "B2")
    assert (b2.start, b2.days) == (dt.date(2027, 7, 29), 28)


def test_an_unknown_block_is_a_command_line_input_error(tiny: Bundle) -> None:
    with pytest.raises(InputError) as caught:
        block_instance(tiny, "B9")
    assert caught.value.exit_code == 2
    [problem] = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.got) == ("command line", None, "--block", "B9")
    assert "command line, column --block: expected a block id from blocks.csv (B1, B2), got B9" in str(caught.value)


# --------------------------------------------------------------------------- people and shifts


def test_people_keep_role_pgy_fte_and_skills(b1: Instance) -> None:
    assert b1.people == (
        PersonSpec("R1", "resident", 1, 1.0, frozenset()),
        PersonSpec("R2", "resident", 2, 1.0, frozenset({"procedures"})),
        PersonSpec("R3", "resident", 3, 1.0, frozenset({"procedures", "ob"})),
        PersonSpec("F1", "faculty", None, 0.8, frozenset()),
    )


def test_shifts_keep_clock_times_transition_kind_and_home_call_hours(b1: Instance) -> None:
    day, night, call, home = (b1.shift[s] for s in ("DAY", "NIGHT", "CALL24", "HOME"))
    assert (day.start, day.end, day.transition_minutes, day.kind, day.in_house_call) == (
        dt.time(7),
        dt.time(19),
        0,
        "day",
        False,
    )
    assert (night.start, night.end, night.kind) == (dt.time(19), dt.time(7), "night")
    assert (call.transition_minutes, call.kind, call.in_house_call, call.counts_as_work) == (240, "call", True, True)
    assert (home.kind, home.home_call_hours, home.in_house_call) == ("home_call", 2.0, False)
    assert b1.slot(0, "HOME").work_minutes == 120  # home call counts its expected hours only
    assert b1.slot(0, "CALL24").work_minutes == 28 * 60  # 24 h + 4 h hand-off


def test_empty_optional_shift_cells_take_their_defaults(tiny_files: dict[str, bytes]) -> None:
    bundle = edited(
        tiny_files,
        shifts_csv=("DAY,Day ward,07:00,19:00,0,day,false,true,", "DAY,Day ward,07:00,19:00,,day,false,,"),
    )
    day = block_instance(bundle, "B1").shift["DAY"]
    assert (day.transition_minutes, day.counts_as_work, day.home_call_hours) == (0, True, None)


# --------------------------------------------------------------------------- eligibility


def test_rotation_decides_the_shifts_a_resident_may_work(b1: Instance) -> None:
    for day in range(b1.days):
        assert b1.allowed is not None
        assert b1.allowed[("R1", day)] == WARD
        assert b1.allowed[("R2", day)] == WARD
        assert b1.allowed[("R3", day)] == frozenset({"NIGHT"})  # night float: nights only
    assert b1.may_work("R3", 5, "NIGHT") and not b1.may_work("R3", 5, "DAY")
    assert b1.rotation[("R1", 0)] == "WARD" and b1.rotation[("R3", 27)] == "NF"


def test_rotations_change_with_the_block(tiny: Bundle) -> None:
    b2 = block_instance(tiny, "B2")
    assert b2.allowed is not None
    assert b2.allowed[("R1", 0)] == frozenset({"NIGHT"})
    assert b2.allowed[("R3", 0)] == WARD


def test_faculty_without_a_rotation_may_work_the_shifts_faculty_coverage_rows_name(
    tiny_files: dict[str, bytes], b1: Instance
) -> None:
    assert b1.allowed is not None
    assert b1.allowed[("F1", 0)] == frozenset({"DAY"})
    assert b1.rotation[("F1", 0)] is None
    more = block_instance(edited(tiny_files, add={"coverage.csv": ["HOME,weekend,,faculty,,,0,1,"]}), "B1")
    assert more.allowed is not None
    assert more.allowed[("F1", 3)] == frozenset({"DAY", "HOME"})


def test_faculty_with_a_rotation_follow_it(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(edited(tiny_files, add={"rotation_assignments.csv": ["F1,B1,NF"]}), "B1")
    assert inst.allowed is not None
    assert inst.allowed[("F1", 0)] == frozenset({"NIGHT"})
    assert inst.rotation[("F1", 0)] == "NF"


def test_a_resident_without_a_rotation_row_is_refused_in_that_block(tiny: Bundle) -> None:
    # rotation_assignments.csv may be partial (a year still to plan); the block's instance may not
    ra = tiny.frames["rotation_assignments"]
    tiny.frames["rotation_assignments"] = ra[~((ra["person_id"] == "R2") & (ra["block_id"] == "B1"))]
    with pytest.raises(InputError) as caught:
        block_instance(tiny, "B1")
    assert [str(p) for p in caught.value.problems] == [
        "rotation_assignments.csv, column rotation_id: expected a rotation for resident R2 in block B1, got no row"
    ]
    inst = block_instance(tiny, "B2")  # the other block has its rows
    assert inst.rotation[("R2", 0)] == "WARD"


def test_a_block_without_rotation_rows_names_the_file_and_plan_year(tiny: Bundle) -> None:
    ra = tiny.frames["rotation_assignments"]
    tiny.frames["rotation_assignments"] = ra[ra["block_id"] != "B1"]
    with pytest.raises(InputError) as caught:
        block_instance(tiny, "B1")
    assert caught.value.exit_code == 2
    assert [str(p) for p in caught.value.problems] == [
        "rotation_assignments.csv, column block_id: expected a row for each resident in block B1 "
        "(or plan the year: rotaflow plan-year), got no row for block B1"
    ]


def test_a_faculty_only_row_does_not_plan_the_block(tiny: Bundle) -> None:
    ra = tiny.frames["rotation_assignments"]
    kept = ra[ra["block_id"] != "B1"]
    extra = kept.iloc[:1].assign(person_id="F1", block_id="B1", rotation_id="NF")
    tiny.frames["rotation_assignments"] = pd.concat([kept, extra])
    with pytest.raises(InputError, match="no row for block B1"):
        block_instance(tiny, "B1")


def test_a_leave_rotation_makes_every_day_leave_and_allows_no_shift(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(edited(tiny_files, rotation_assignments_csv=("R2,B1,WARD", "R2,B1,VAC")), "B1")
    assert inst.leave_days["R2"] == frozenset(range(28))
    assert inst.allowed is not None
    assert inst.allowed[("R2", 0)] == frozenset()
    assert "R1" not in inst.leave_days


# --------------------------------------------------------------------------- absences


def test_a_blocking_absence_blocks_its_days_and_counts_as_leave(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(edited(tiny_files, add={"absences.csv": ["R2,2027-07-10,2027-07-12,vacation,true"]}), "B1")
    assert inst.blocked_days == {"R2": frozenset({9, 10, 11})}
    # F1's vacation of 2027-08-01..03 lies in B2: leave after the block, where B1's windows reach
    assert inst.leave_days == {"R2": frozenset({9, 10, 11}), "F1": frozenset({31, 32, 33})}


def test_a_non_blocking_conference_is_neither_blocked_nor_leave(b1: Instance) -> None:
    # R1 has a conference on 2027-07-10..11 with blocking=false; F1's vacation is in B2
    assert b1.blocked_days == {}
    assert "R1" not in b1.leave_days and set(b1.leave_days) == {"F1"}


def test_an_absence_with_no_blocking_cell_blocks(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(edited(tiny_files, add={"absences.csv": ["R2,2027-07-14,2027-07-14,sick,"]}), "B1")
    assert inst.blocked_days == {"R2": frozenset({13})}


def test_absences_block_only_inside_the_block_and_are_leave_on_both_sides(tiny_files: dict[str, bytes]) -> None:
    bundle = edited(
        tiny_files,
        add={
            "absences.csv": [
                "R2,2027-06-28,2027-07-02,vacation,true",  # starts before B1
                "R3,2027-07-27,2027-07-30,sick,true",  # runs into B2
                "R1,2027-07-01,2027-07-02,parental,true",  # 28 and 27 days before B2
            ]
        },
    )
    b1 = block_instance(bundle, "B1")
    assert b1.blocked_days["R2"] == frozenset({0, 1})
    assert b1.leave_days["R2"] == frozenset({-3, -2, -1, 0, 1})  # leave before the block counts in rolling windows
    assert b1.blocked_days["R3"] == frozenset({26, 27})
    assert b1.leave_days["R3"] == frozenset({26, 27, 28, 29})  # after the block too: B1's last windows reach it
    b2 = block_instance(bundle, "B2")
    assert b2.blocked_days["R3"] == frozenset({0, 1})
    assert b2.blocked_days["F1"] == frozenset({3, 4, 5})  # vacation 2027-08-01..03
    assert b2.blocked_days.get("R1", frozenset()) == frozenset()  # nothing blocked inside B2
    assert b2.leave_days["R1"] == frozenset({-28, -27})  # leave before the block, as the windows reading it need
    assert b2.leave_days["R3"] == frozenset({-2, -1, 0, 1})


def test_a_leave_rotation_of_another_block_is_leave_on_its_days(tiny_files: dict[str, bytes]) -> None:
    bundle = edited(tiny_files, rotation_assignments_csv=("R2,B1,WARD", "R2,B1,VAC"))
    b2 = block_instance(bundle, "B2")
    assert b2.leave_days["R2"] == frozenset(range(-28, 0))  # all of B1, before B2
    assert b2.allowed is not None and b2.allowed[("R2", 0)] != frozenset()  # back on the ward in B2


# --------------------------------------------------------------------------- coverage


def test_coverage_rows_become_demands_for_the_people_who_count(b1: Instance) -> None:
    thursday = demands_on(b1, "2027-07-01")
    assert thursday == [
        Demand(0, "DAY", frozenset({"R1", "R2"}), min=1, max=2, target=2, label="coverage.csv row 1"),
        Demand(0, "DAY", frozenset({"F1"}), min=1, max=None, target=None, label="coverage.csv row 3"),
        Demand(0, "NIGHT", frozenset({"R3"}), min=1, max=1, target=None, label="coverage.csv row 2"),
    ]


def test_weekday_rows_skip_the_weekend(b1: Instance) -> None:
    saturday = demands_on(b1, "2027-07-03")
    assert [(d.shift, d.label) for d in saturday] == [("DAY", "coverage.csv row 1"), ("NIGHT", "coverage.csv row 2")]
    weekdays = {b1.date(d.day).weekday() for d in b1.demands if d.label == "coverage.csv row 3"}
    assert weekdays == {0, 1, 2, 3, 4}
    assert sum(1 for d in b1.demands if d.label == "coverage.csv row 3") == 20


def test_a_dated_row_replaces_the_pattern_rows_of_its_shift_that_day(b1: Instance) -> None:
    independence_day = demands_on(b1, "2027-07-04")  # a Sunday
    assert [(d.shift, d.min, d.max, d.label) for d in independence_day] == [
        ("DAY", 0, 1, "coverage.csv row 4"),
        ("NIGHT", 1, 1, "coverage.csv row 2"),  # other shifts keep their rows
    ]
    assert sum(1 for d in b1.demands if d.label == "coverage.csv row 1") == 27


def test_a_dated_row_on_a_weekday_replaces_the_faculty_row_of_that_shift_too(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(edited(tiny_files, add={"coverage.csv": ["DAY,2027-07-05,,resident,,,2,3,"]}), "B1")
    monday = demands_on(inst, "2027-07-05")
    assert [(d.shift, d.people, d.min, d.label) for d in monday] == [
        ("DAY", frozenset({"R1", "R2", "R3"}), 2, "coverage.csv row 5"),
        ("NIGHT", frozenset({"R3"}), 1, "coverage.csv row 2"),
    ]


def test_weekend_day_lists_and_filters_select_the_right_people(tiny_files: dict[str, bytes]) -> None:
    bundle = edited(
        tiny_files,
        add={
            "coverage.csv": [
                "HOME,weekend,,resident,2,,1,2,",  # PGY-2 and up: R2, R3 (faculty have no PGY)
                "CALL24,mon;wed,,,,procedures,1,,",  # the procedures skill: R2, R3
                "CALL24,fri,WARD,,,,0,1,",  # rotation filter: R1, R2
                "HOME,sun,,,3,ob,1,,",  # PGY-3 with ob: R3
            ]
        },
    )
    inst = block_instance(bundle, "B1")
    by_label: dict[str, list[Demand]] = {}
    for demand in inst.demands:
        by_label.setdefault(demand.label, []).append(demand)

    def days(label: str) -> set[int]:
        return {inst.date(d.day).weekday() for d in by_label[label]}

    assert days("coverage.csv row 5") == {5, 6} and len(by_label["coverage.csv row 5"]) == 8
    assert {d.people for d in by_label["coverage.csv row 5"]} == {frozenset({"R2", "R3"})}
    assert days("coverage.csv row 6") == {0, 2} and len(by_label["coverage.csv row 6"]) == 8
    assert {d.people for d in by_label["coverage.csv row 6"]} == {frozenset({"R2", "R3"})}
    assert days("coverage.csv row 7") == {4}
    assert {d.people for d in by_label["coverage.csv row 7"]} == {frozenset({"R1", "R2"})}
    assert days("coverage.csv row 8") == {6}
    assert {d.people for d in by_label["coverage.csv row 8"]} == {frozenset({"R3"})}


def test_coverage_rows_for_day_keeps_the_frame_rows(tiny: Bundle) -> None:
    coverage = tiny.frames["coverage"]
    assert list(coverage_rows_for_day(coverage, dt.date(2027, 7, 1)).index) == [1, 2, 3]
    assert list(coverage_rows_for_day(coverage, dt.date(2027, 7, 3)).index) == [1, 2]
    assert list(coverage_rows_for_day(coverage, dt.date(2027, 7, 4)).index) == [2, 4]


# --------------------------------------------------------------------------- requests


def test_requests_map_to_day_indexes(b1: Instance) -> None:
    assert b1.requests == (
        RequestSpec("R1", 4, "DAY", "off", 3),
        RequestSpec("R2", 5, None, "off", 1),  # no shift: the whole day
        RequestSpec("R2", 6, "CALL24", "on", 2),
    )


def test_requests_outside_the_block_are_dropped(tiny_files: dict[str, bytes]) -> None:
    bundle = edited(tiny_files, add={"requests.csv": ["R1,2027-08-02,NIGHT,on,", "F1,2027-06-30,DAY,off,2"]})
    assert len(block_instance(bundle, "B1").requests) == 3
    assert block_instance(bundle, "B2").requests == (RequestSpec("R1", 4, "NIGHT", "on", 1),)


# --------------------------------------------------------------------------- history, previous, pins


def test_history_rows_become_instants_before_the_block(b1: Instance) -> None:
    day, call = sorted(b1.history, key=lambda h: h.start)
    assert day.person == "R1"
    assert (day.start, day.end_with_transition) == (
        dt.datetime(2027, 6, 29, 11, tzinfo=UTC),  # 07:00 EDT
        dt.datetime(2027, 6, 29, 23, tzinfo=UTC),
    )
    assert (day.work_minutes, day.scheduled_minutes, day.kind, day.in_house_call) == (720, 720, "day", False)
    assert call.person == "R2"  # a 24-hour call the day before the block, hand-off into day 0
    assert call.start == dt.datetime(2027, 6, 30, 11, tzinfo=UTC)
    assert call.end_with_transition == dt.datetime(2027, 7, 1, 15, tzinfo=UTC)
    assert (call.work_minutes, call.scheduled_minutes, call.kind, call.in_house_call) == (1680, 1440, "call", True)
    assert call.end_with_transition > b1.midnight(0)


def test_history_from_the_database_joins_history_csv_once(tiny: Bundle) -> None:
    inst = block_instance(
        tiny,
        "B1",
        history=[
            ("R3", dt.date(2027, 6, 30), "NIGHT"),  # kept
            ("R2", dt.date(2027, 6, 30), "CALL24"),  # also in history.csv: kept once
            ("R1", dt.date(2027, 7, 1), "DAY"),  # inside the block: not history
            ("R1", dt.date(2027, 5, 1), "DAY"),  # more than 40 days back: dropped
            ("R1", dt.date(2027, 6, 30), "NOPE"),  # unknown shift: dropped
        ],
    )
    assert sorted((h.person, h.start.astimezone(inst.zone).date().isoformat(), h.kind) for h in inst.history) == [
        ("R1", "2027-06-29", "day"),
        ("R2", "2027-06-30", "call"),
        ("R3", "2027-06-30", "night"),
    ]


def test_previous_schedule_and_pins_use_day_indexes_inside_the_block(tiny: Bundle) -> None:
    inst = block_instance(
        tiny,
        "B1",
        previous=[
            ("R1", dt.date(2027, 7, 2), "DAY"),
            ("R1", dt.date(2027, 8, 2), "DAY"),  # after the block
            ("R1", dt.date(2027, 7, 3), "NOPE"),  # unknown shift
        ],
        pins={("R3", dt.date(2027, 7, 28), "NIGHT"): True, ("R3", dt.date(2027, 6, 30), "NIGHT"): True},
    )
    assert inst.previous == frozenset({("R1", 1, "DAY")})
    assert inst.pins == {("R3", 27, "NIGHT"): True}


# --------------------------------------------------------------------------- daylight saving


def _with_autumn_block(tiny_files: dict[str, bytes]) -> Bundle:
    return edited(
        tiny_files,
        add={
            "blocks.csv": ["B3,2027-10-21,2027-11-17"],
            "rotation_assignments.csv": ["R1,B3,WARD", "R2,B3,WARD", "R3,B3,NF"],
        },
    )


def test_a_night_over_the_autumn_change_lasts_13_hours(tiny_files: dict[str, bytes]) -> None:
    inst = block_instance(_with_autumn_block(tiny_files), "B3")
    change = inst.day_index(dt.date(2027, 11, 6))
    night = inst.slot(change, "NIGHT")
    assert night.scheduled_minutes == 13 * 60
    assert night.work_minutes == 13 * 60
    assert night.start.astimezone(inst.zone).isoformat() == "2027-11-06T19:00:00-04:00"
    assert night.end.astimezone(inst.zone).isoformat() == "2027-11-07T07:00:00-05:00"
    assert inst.slot(change - 1, "NIGHT").scheduled_minutes == 12 * 60
    assert inst.slot(change + 1, "NIGHT").scheduled_minutes == 12 * 60
    assert inst.slot(change, "CALL24").scheduled_minutes == 25 * 60
    assert inst.slot(change + 1, "DAY").scheduled_minutes == 12 * 60  # a day shift after the change is unaffected
