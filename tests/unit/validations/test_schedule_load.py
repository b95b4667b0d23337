"""Reading a schedule of any origin (validations.schedule): derived columns, checks, located problems."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from rotaflow.constraints.instance import Instance, ShiftSpec
from rotaflow.errors import InputError
from rotaflow.services.generate import assignment_rows
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.instances import block_instance
from rotaflow.validations.schedule import INPUT_COLUMNS, SCHEDULE_COLUMNS, history_frame, load_schedule, local_midnights

UTC = dt.UTC


def write_bundle(folder: Path, files: dict[str, bytes], **changes: bytes) -> Bundle:
    """The bundle written into ``folder`` (with some files replaced) and read back."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in {**files, **{k.replace("_csv", ".csv"): v for k, v in changes.items()}}.items():
        (folder / name).write_bytes(data)
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


@pytest.fixture
def tiny(tmp_path: Path, tiny_files: dict[str, bytes]) -> Bundle:
    return write_bundle(tmp_path / "tiny", tiny_files)


def problems(bundle: Bundle, source: bytes | pd.DataFrame, **kwargs: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_schedule(bundle, source, **kwargs)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


# --------------------------------------------------------------------------- deriving


def test_three_columns_are_enough_and_the_rest_is_derived(tiny: Bundle) -> None:
    frame = load_schedule(
        tiny,
        b"person_id,date,shift_id\nR1,2027-07-01,DAY\nR2,2027-07-01,CALL24\nR2,2027-07-03,HOME\nR3,2027-07-02,NIGHT\n",
    )
    assert list(frame.columns) == SCHEDULE_COLUMNS
    assert list(frame.index) == [1, 2, 3, 4]
    day, call, home, night = (frame.loc[n] for n in (1, 2, 3, 4))
    assert (day["start"], day["end"], day["hours"]) == (
        at("2027-07-01T07:00-04:00"),
        at("2027-07-01T19:00-04:00"),
        12.0,
    )
    # CALL24: 24 h scheduled, the 4-hour hand-off is in `end` (and in the work hours), not in `scheduled_end`
    assert call["scheduled_end"] == at("2027-07-02T07:00-04:00")
    assert call["end"] == at("2027-07-02T11:00-04:00")
    assert (call["hours"], call["kind"], call["in_house_call"]) == (28.0, "call", True)
    # home call counts only its expected call-in hours
    assert (home["hours"], home["kind"], home["end"]) == (2.0, "home_call", at("2027-07-04T07:00-04:00"))
    assert (night["rotation_id"], night["source"]) == ("NF", "manual")
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["date"].dtype) == "datetime64[ns]"


def test_an_assignments_file_written_by_generate_reads_back_unchanged(tiny: Bundle) -> None:
    instance = block_instance(tiny, "B1")
    cells = [("R1", 0, "DAY"), ("R2", 0, "CALL24"), ("R3", 3, "NIGHT"), ("R2", 5, "HOME"), ("F1", 4, "DAY")]
    rows = assignment_rows(instance, cells)
    text = ",".join(INPUT_COLUMNS) + "\n" + "".join(",".join(str(r[c]) for c in INPUT_COLUMNS) + "\n" for r in rows)
    frame = load_schedule(tiny, text.encode())
    assert sorted(zip(frame["person_id"], frame["shift_id"], frame["hours"], strict=True)) == sorted(
        (r["person_id"], r["shift_id"], r["hours"]) for r in rows
    )
    assert set(frame["source"]) == {"solver"}
    assert frame.loc[frame["person_id"] == "F1", "rotation_id"].isna().all()


def test_a_frame_with_typed_columns_is_read_like_the_file(tiny: Bundle) -> None:
    typed = pd.DataFrame(
        {
            "person_id": ["R1", "R2"],
            "date": pd.to_datetime(["2027-07-01", "2027-07-02"]),
            "shift_id": ["DAY", "CALL24"],
            "start": pd.to_datetime(["2027-07-01T07:00-04:00", "2027-07-02T11:00Z"], utc=True),
            "hours": [12.0, 28.004],
        }
    )
    frame = load_schedule(tiny, typed)
    assert list(frame["hours"]) == [12.0, 28.0]
    as_objects = pd.DataFrame(
        {
            "person_id": ["R1"],
            "date": [dt.date(2027, 7, 1)],
            "shift_id": ["DAY"],
            "end": [dt.datetime(2027, 7, 1, 23, tzinfo=UTC)],
        }
    )
    assert load_schedule(tiny, as_objects)["end"].iloc[0] == at("2027-07-01T19:00-04:00")
    # a frame that already has the derived columns goes through again unchanged
    again = load_schedule(tiny, frame)
    pd.testing.assert_frame_equal(again, frame)


def test_blank_lines_keep_their_row_numbers_and_quoted_files_read_the_same(tiny: Bundle) -> None:
    plain = load_schedule(tiny, b"person_id,date,shift_id\nR1,2027-07-01,DAY\n\n R2 ,2027-07-02,DAY\n,,\n")
    assert list(plain.index) == [1, 3]
    assert list(plain["person_id"]) == ["R1", "R2"]
    quoted = load_schedule(tiny, b'person_id,date,shift_id\r\n"R1",2027-07-01,DAY\r\n\r\n"R2",2027-07-02,"DAY"\r\n')
    pd.testing.assert_frame_equal(quoted, plain)


def test_an_empty_schedule_has_the_columns_and_no_rows(tiny: Bundle) -> None:
    for source in (
        b"person_id,date,shift_id\n",
        b"person_id,date,shift_id\n\n",
        pd.DataFrame(columns=["person_id", "date", "shift_id"]),
    ):
        frame = load_schedule(tiny, source)
        assert frame.empty and list(frame.columns) == SCHEDULE_COLUMNS


def test_a_date_outside_every_block_has_no_rotation(tiny: Bundle) -> None:
    frame = load_schedule(tiny, b"person_id,date,shift_id\nR1,2028-01-05,DAY\n")
    assert frame["rotation_id"].isna().all()


def test_history_keeps_its_rows_with_source_history(tiny: Bundle) -> None:
    history = history_frame(tiny)
    assert list(history.columns) == SCHEDULE_COLUMNS
    assert list(zip(history["person_id"], history["shift_id"], history["source"], strict=True)) == [
        ("R1", "DAY", "history"),
        ("R2", "CALL24", "history"),
    ]
    assert history["rotation_id"].isna().all()  # June 2027 is in no block


def test_history_instants_that_disagree_with_the_bundle_are_located(
    tmp_path: Path, tiny_files: dict[str, bytes]
) -> None:
    bundle = write_bundle(
        tmp_path / "b",
        tiny_files,
        history_csv=b"person_id,date,shift_id,start,hours\nR1,2027-06-29,DAY,2027-06-29T08:00:00-04:00,12\n",
    )
    with pytest.raises(InputError) as caught:
        history_frame(bundle)
    assert [str(p) for p in caught.value.problems] == [
        "history.csv, row 1, column start: expected 2027-06-29T07:00:00-04:00 (the localised start of shift DAY "
        "on 2027-06-29), got '2027-06-29T08:00:00-04:00'"
    ]


# --------------------------------------------------------------------------- clocks and daylight saving


@pytest.mark.parametrize(
    ("date", "shift", "start", "end", "hours"),
    [
        # autumn change (New York falls back on 2027-11-07 at 02:00): the night lasts 13 hours
        ("2027-11-06", "NIGHT", "2027-11-06T19:00-04:00", "2027-11-07T07:00-05:00", 13.0),
        ("2027-11-06", "CALL24", "2027-11-06T07:00-04:00", "2027-11-07T11:00-05:00", 29.0),
        ("2027-11-07", "NIGHT", "2027-11-07T19:00-05:00", "2027-11-08T07:00-05:00", 12.0),
        # spring change (2027-03-14 at 02:00 becomes 03:00): the night lasts 11 hours
        ("2027-03-13", "NIGHT", "2027-03-13T19:00-05:00", "2027-03-14T07:00-04:00", 11.0),
        ("2027-03-13", "CALL24", "2027-03-13T07:00-05:00", "2027-03-14T11:00-04:00", 27.0),
        # clock times that do not exist (02:30 on the spring day) or exist twice (01:30 in autumn):
        # Python's fold=0 - the offset from before the change, the first occurrence
        ("2027-03-14", "GAP", "2027-03-14T02:30-05:00", "2027-03-14T04:00-04:00", 0.5),
        ("2027-11-07", "TWICE", "2027-11-07T01:30-04:00", "2027-11-07T04:00-05:00", 3.5),
    ],
)
def test_instants_are_elapsed_real_time_across_daylight_saving(
    tmp_path: Path, tiny_files: dict[str, bytes], date: str, shift: str, start: str, end: str, hours: float
) -> None:
    shifts = (
        tiny_files["shifts.csv"] + b"GAP,Gap,02:30,04:00,0,day,false,true,\nTWICE,Twice,01:30,04:00,0,day,false,true,\n"
    )
    bundle = write_bundle(tmp_path / "b", tiny_files, shifts_csv=shifts)
    row = load_schedule(bundle, f"person_id,date,shift_id\nR1,{date},{shift}\n".encode()).iloc[0]
    assert (row["start"], row["end"], row["hours"]) == (at(start), at(end), hours)


def test_instants_match_the_rule_engine_around_both_changes(tmp_path: Path, tiny_files: dict[str, bytes]) -> None:
    extra = b"".join(
        f"X{h:02d}{m:02d},X,{h:02d}:{m:02d},{(h + 7) % 24:02d}:{m:02d},30,day,false,true,\n".encode()
        for h in range(24)
        for m in (0, 30)
    )
    bundle = write_bundle(tmp_path / "b", tiny_files, shifts_csv=tiny_files["shifts.csv"] + extra)
    shifts = list(bundle.frames["shifts"]["shift_id"])
    for first in (dt.date(2027, 3, 12), dt.date(2027, 11, 5)):
        rows = [("R1", (first + dt.timedelta(days=d)).isoformat(), s) for d in range(4) for s in shifts]
        frame = load_schedule(bundle, pd.DataFrame(rows, columns=["person_id", "date", "shift_id"]))
        specs = tuple(
            ShiftSpec(
                r.shift_id,
                start=dt.time.fromisoformat(r.start),
                end=dt.time.fromisoformat(r.end),
                transition_minutes=int(r.transition_minutes),
            )
            for r in bundle.frames["shifts"].itertuples()
        )
        engine = Instance("x", first, 4, (), specs, timezone="America/New_York")
        for row in frame.itertuples():
            slot = engine.make_slot((row.date.date() - first).days, row.shift_id)
            assert (row.start, row.scheduled_end, row.end) == (slot.start, slot.end, slot.end_with_transition)


def test_local_midnights_follow_the_zone() -> None:
    midnights = local_midnights("America/New_York", dt.date(2027, 11, 6), 3)
    assert list(midnights[1:] - midnights[:-1]) == [24 * 3600, 25 * 3600]


# --------------------------------------------------------------------------- bad input

HEADER = b"person_id,date,shift_id,start,end,hours,rotation_id,source\n"
GOOD = b"R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,12,WARD,solver\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            b"R9,2027-07-01,DAY,,,,,",
            "assignments.csv, row 2, column person_id: expected an id listed in people.csv, got 'R9'",
        ),
        (
            b",2027-07-01,DAY,,,,,",
            "assignments.csv, row 2, column person_id: expected an id listed in people.csv, got an empty cell",
        ),
        (
            b"R1,2027-07-01,BRUNCH,,,,,",
            "assignments.csv, row 2, column shift_id: expected an id listed in shifts.csv, got 'BRUNCH'",
        ),
        (
            b"R1,2027-02-30,DAY,,,,,",
            "assignments.csv, row 2, column date: expected a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31, got '2027-02-30'",
        ),
        (
            b"R1,07/01/2027,DAY,,,,,",
            "assignments.csv, row 2, column date: expected a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31, got '07/01/2027'",
        ),
        (
            b"R1,1850-07-01,DAY,,,,,",
            "assignments.csv, row 2, column date: expected a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31, got '1850-07-01'",
        ),
        (b"R1,,DAY,,,,,", "assignments.csv, row 2, column date: expected a date (YYYY-MM-DD), got an empty cell"),
        (
            GOOD.strip(),
            "assignments.csv, row 2: expected a unique combination of person_id, date, shift_id, got a repeated row (as row 1)",
        ),
        (
            b"R2,2027-07-01,DAY,2027-07-01T08:00:00-04:00,,,,",
            "assignments.csv, row 2, column start: expected 2027-07-01T07:00:00-04:00 (the localised start of shift DAY on 2027-07-01), got '2027-07-01T08:00:00-04:00'",
        ),
        (
            b"R2,2027-07-01,DAY,2027-07-01 07:00,,,,",
            "assignments.csv, row 2, column start: expected an ISO 8601 time with offset, got '2027-07-01 07:00'",
        ),
        (
            b"R2,2027-07-01,CALL24,,2027-07-02T07:00:00-04:00,,,",
            "assignments.csv, row 2, column end: expected 2027-07-02T11:00:00-04:00 (the localised end with hand-off of shift CALL24 on 2027-07-01), got '2027-07-02T07:00:00-04:00'",
        ),
        (
            b"R2,2027-07-01,DAY,,,12.5,,",
            "assignments.csv, row 2, column hours: expected 12.00 (the work hours of shift DAY, within 0.01), got '12.5'",
        ),
        (
            b"R2,2027-07-01,DAY,,,twelve,,",
            "assignments.csv, row 2, column hours: expected a number of hours 0-48, got 'twelve'",
        ),
        (
            b"R2,2027-07-01,DAY,,,49,,",
            "assignments.csv, row 2, column hours: expected a number of hours 0-48, got '49'",
        ),
        (
            b"R2,2027-07-01,DAY,,,,GOLF,",
            "assignments.csv, row 2, column rotation_id: expected an id listed in rotations.csv, got 'GOLF'",
        ),
        (
            b"R2,2027-07-01,DAY,,,,NF,",
            "assignments.csv, row 2, column rotation_id: expected WARD (the rotation of R2 in rotation_assignments.csv on 2027-07-01), got 'NF'",
        ),
        (
            b"R2,2027-07-01,DAY,,,,,robot",
            "assignments.csv, row 2, column source: expected one of solver, pinned, history, manual, got 'robot'",
        ),
        (b"R2,2027-07-01,DAY", "assignments.csv, row 2: expected 8 fields as in the header, got 3 fields"),
        # personal data in a cell is never shown
        (
            b"Resident Two,2027-07-01,DAY,,,,,",
            "assignments.csv, row 2, column person_id: expected an id listed in people.csv, got a value (hidden: personal data)",
        ),
        (
            b"r2@example.org,2027-07-01,DAY,,,,,",
            "assignments.csv, row 2, column person_id: expected an id listed in people.csv, got a value (hidden: personal data)",
        ),
        (
            b"Dr Jane Doe,2027-07-01,DAY,,,,,",
            "assignments.csv, row 2, column person_id: expected an id listed in people.csv, got a value (hidden: personal data)",
        ),
    ],
)
def test_each_bad_cell_is_located(tiny: Bundle, row: bytes, message: str) -> None:
    assert problems(tiny, HEADER + GOOD + row + b"\n") == [message]


def test_hours_within_a_hundredth_are_accepted(tiny: Bundle) -> None:
    frame = load_schedule(tiny, HEADER + b"R1,2027-07-01,DAY,,,12.01,,\nR2,2027-07-01,DAY,,,11.99,,\n")
    assert list(frame["hours"]) == [12.0, 12.0]


def test_every_problem_comes_back_at_once(tiny: Bundle) -> None:
    found = problems(
        tiny, b"person_id,date,shift_id\nR9,2027-07-01,DAY\nR1,2027-13-01,DAY\nR1,2027-07-01,NAP\n", file="mine.csv"
    )
    assert found == [
        "mine.csv, row 1, column person_id: expected an id listed in people.csv, got 'R9'",
        "mine.csv, row 2, column date: expected a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31, got '2027-13-01'",
        "mine.csv, row 3, column shift_id: expected an id listed in shifts.csv, got 'NAP'",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"person_id,date\nR1,2027-07-01\n",
            "assignments.csv, column shift_id: expected a column named shift_id, got no such column",
        ),
        (
            b"person_id,date,shift_idd\nR1,2027-07-01,DAY\n",
            "assignments.csv, column shift_idd: expected the column shift_id (extra columns are allowed, but this "
            "looks like a misspelling of it), got an unknown column",
        ),
        (
            b"person_id,date,shift_id,date\n",
            "assignments.csv, column date: expected each column once, got a repeated column",
        ),
        (
            b"person_id,,date,shift_id\n",
            "assignments.csv: expected a name for every header column, got an empty header cell",
        ),
        (b"", "assignments.csv: expected a header row with the columns person_id, date, shift_id, got an empty file"),
        (b"\xff\xfe", "assignments.csv: expected UTF-8 text, got a byte that is not UTF-8 at offset 0"),
        (b"person_id\x00", "assignments.csv: expected text without NUL bytes, got binary data"),
        (
            b'person_id,date,shift_id\n"R1,2027-07-01,DAY\n',
            "assignments.csv, row 1: expected 3 fields as in the header, got 1 fields",
        ),
    ],
)
def test_bad_files_are_refused_with_their_reason(tiny: Bundle, data: bytes, message: str) -> None:
    assert message in problems(tiny, data)


def test_a_quoted_file_is_held_to_the_same_contract(tiny: Bundle) -> None:
    assert (
        "assignments.csv, column shiftid: expected the column shift_id (extra columns are allowed, but this looks "
        "like a misspelling of it), got an unknown column"
    ) in problems(tiny, b'"person_id","date","shiftid","mood"\n')
    huge = b'person_id,date,shift_id\n"' + b"x" * 200_000 + b'",2027-07-01,DAY\n'
    assert problems(tiny, huge)[0].startswith(
        "assignments.csv: expected well-formed CSV, got 'field larger than field limit"
    )


def test_a_missing_header_row_does_not_show_the_names_it_holds(tiny: Bundle) -> None:
    found = problems(tiny, b"R1,Resident One,DAY\n")
    assert not any("Resident One" in p for p in found)
    assert (
        "assignments.csv, column #2 (a header cell that is not a column name; is the header row missing?): "
        "expected a header row of column names, got an unknown column"
    ) in found


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({"person_id": ["R1"], "date": pd.to_datetime(["2027-07-01 08:00"]), "shift_id": ["DAY"]}),
            "assignments.csv, row 1, column date: expected a date (YYYY-MM-DD) from 1900-01-01 to 2199-12-31, got '2027-07-01T08:00:00'",
        ),
        (
            pd.DataFrame(
                {
                    "person_id": ["R1"],
                    "date": ["2027-07-01"],
                    "shift_id": ["DAY"],
                    "start": pd.to_datetime(["2027-07-01 07:00"]),
                }
            ),
            "assignments.csv, row 1, column start: expected an ISO 8601 time with offset, got '2027-07-01T07:00:00'",
        ),
        (
            pd.DataFrame({"person_id": ["R1"], "date": ["2027-07-01"], "shift_id": ["DAY"], "hours": [-1.0]}),
            "assignments.csv, row 1, column hours: expected a number of hours 0-48, got '-1.0'",
        ),
        (
            pd.DataFrame({"person_id": ["R1"], "day": ["2027-07-01"], "shift_id": ["DAY"]}),
            "assignments.csv, column date: expected a column named date, got no such column",
        ),
    ],
)
def test_bad_frames_are_refused_with_their_reason(tiny: Bundle, frame: pd.DataFrame, message: str) -> None:
    assert message in problems(tiny, frame)


def test_only_bytes_or_frames_are_schedules(tiny: Bundle) -> None:
    with pytest.raises(TypeError):
        load_schedule(tiny, "person_id,date,shift_id\n")  # type: ignore[arg-type]


@pytest.mark.parametrize("quoted", [False, True], ids=["fast-reader", "csv-reader"])
def test_extra_columns_are_allowed_and_not_read(tiny: Bundle, quoted: bool) -> None:
    plain = b"person_id,date,shift_id\nR1,2027-07-01,DAY\nR2,2027-07-01,NIGHT\n"
    extra = b"person_id,date,shift_id,mood,Notes (free)\nR1,2027-07-01,DAY,ok,x\nR2,2027-07-01,NIGHT,tired,y\n"
    if quoted:
        extra = extra.replace(b"ok", b'"ok"')
    expected = load_schedule(tiny, plain)
    found = load_schedule(tiny, extra)
    pd.testing.assert_frame_equal(found, expected)
    assert "mood" not in found.columns and len(found) == 2


def test_names_are_hidden_by_the_bundles_one_rule(tmp_path: Path, tiny_files: dict[str, bytes]) -> None:
    """The loader hides what parse_bundle hides (errors.hide_personal), no more: a one-word name
    hides a cell that is that name, not every id that contains it."""
    people = tiny_files["people.csv"].replace(b"R3,Resident Three,", b"R3,Dean,")
    bundle = write_bundle(tmp_path / "dean", tiny_files, people_csv=people)
    assert problems(bundle, HEADER + GOOD + b"R2,2027-07-01,DAY,,,,DEANERY,\nR1,2027-07-02,DAY,,,,dean,\n") == [
        "assignments.csv, row 2, column rotation_id: expected an id listed in rotations.csv, got 'DEANERY'",
        "assignments.csv, row 3, column rotation_id: expected an id listed in rotations.csv, got a value (hidden: personal data)",
    ]
