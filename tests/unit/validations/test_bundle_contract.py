"""Every check of the bundle contract (docs/formats.md), each with a broken input and its exact message."""

from __future__ import annotations

import pytest

from rotaflow.errors import InputError
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance


def _replace(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    text = files[name].decode()
    assert old in text, f"{old!r} not in {name}"
    return {**files, name: text.replace(old, new, 1).encode()}


def _messages(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_bundle(files)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def test_the_tiny_bundle_is_valid(tiny_files: dict[str, bytes]) -> None:
    bundle = parse_bundle(tiny_files)
    assert bundle.program.key == "tiny-internal-medicine-residency"
    assert len(bundle.frames["people"]) == 4
    assert list(bundle.frames["people"].index) == [1, 2, 3, 4]


# (file, old text, new text, the one exact message expected)
CASES = [
    # program.yaml
    (
        "program.yaml",
        "America/New_York",
        "Mars/Olympus",
        "program.yaml, column timezone: expected an IANA timezone name such as Pacific/Honolulu, got 'Mars/Olympus'",
    ),
    (
        "program.yaml",
        "name: Tiny Internal Medicine Residency\n",
        "",
        "program.yaml, column name: expected a value, got nothing",
    ),
    (
        "program.yaml",
        "averaging: rolling_28d",
        "averaging: weekly",
        "program.yaml, column acgme.averaging: expected Input should be 'rolling_28d' or 'block', got 'weekly'",
    ),
    (
        "program.yaml",
        "timezone: America/New_York",
        "timezone: [oops",
        "program.yaml, row 3: expected valid YAML, got \"expected ',' or ']', but got ':'\"",
    ),
    (
        "program.yaml",
        "timezone:",
        "colour: blue\ntimezone:",
        "program.yaml, column colour: expected only the keys id, name, timezone, acgme, swaps, holidays, got an unknown key",
    ),
    (
        "program.yaml",
        "timezone:",
        "swaps: {approval: none, undo: 2}\ntimezone:",
        "program.yaml, column swaps.undo: expected only the keys approval, undo_hours, got an unknown key",
    ),
    (
        "program.yaml",
        "timezone:",
        "swaps: {approval: chief}\ntimezone:",
        "program.yaml, column swaps.approval: expected Input should be 'coordinator' or 'none', got 'chief'",
    ),
    (
        "program.yaml",
        "timezone:",
        "swaps: {undo_hours: -1}\ntimezone:",
        "program.yaml, column swaps.undo_hours: expected Input should be greater than or equal to 0, got '-1'",
    ),
    # people.csv
    (
        "people.csv",
        "resident,2",
        "doctor,2",
        "people.csv, row 2, column role: expected resident or faculty, got 'doctor'",
    ),
    ("people.csv", "resident,2", "resident,9", "people.csv, row 2, column pgy: expected a whole number 1-8, got '9'"),
    ("people.csv", "resident,2", "resident,two", "people.csv, row 2, column pgy: expected a whole number, got 'two'"),
    (
        "people.csv",
        "resident,2",
        "resident,",
        "people.csv, row 2, column pgy: expected a PGY year 1-8 for a resident, got an empty cell",
    ),
    (
        "people.csv",
        "faculty,,0.8",
        "faculty,3,0.8",
        "people.csv, row 4, column pgy: expected an empty pgy for a faculty member, got '3'",
    ),
    (
        "people.csv",
        "faculty,,0.8",
        "faculty,,1.5",
        "people.csv, row 4, column fte: expected a number above 0 and at most 1, got '1.5'",
    ),
    (
        "people.csv",
        "r2@example.org",
        "not-an-email",
        "people.csv, row 2, column email: expected an email address, got a value (hidden: personal data)",
    ),
    (
        "people.csv",
        "R3,Resident Three",
        "R 3,Resident Three",
        "people.csv, row 3, column person_id: expected an id of letters, digits, '_', '-', '.' or ':' (at most 64 characters), got 'R 3'",
    ),
    # blocks.csv
    (
        "blocks.csv",
        "B2,2027-07-29",
        "B2,2027-07-20",
        "blocks.csv, row 2, column start_date: expected a date after block B1 ends on 2027-07-28 (blocks must not overlap), got 2027-07-20",
    ),
    (
        "blocks.csv",
        "2027-08-25",
        "2027-07-01",
        "blocks.csv, row 2, column end_date: expected a date on or after start_date, got 2027-07-01",
    ),
    (
        "blocks.csv",
        "2027-08-25",
        "25/08/2027",
        "blocks.csv, row 2, column end_date: expected a date (YYYY-MM-DD), got '25/08/2027'",
    ),
    # shifts.csv
    (
        "shifts.csv",
        "DAY,Day ward,07:00",
        "DAY,Day ward,7am",
        "shifts.csv, row 1, column start: expected a clock time HH:MM, got '7am'",
    ),
    (
        "shifts.csv",
        "19:00,07:00,0,night",
        "19:00,24:00,0,night",
        "shifts.csv, row 2, column end: expected a clock time HH:MM, got '24:00'",
    ),
    (
        "shifts.csv",
        "07:00,240,call",
        "07:00,300,call",
        "shifts.csv, row 3, column transition_minutes: expected a whole number of minutes 0-240, got '300'",
    ),
    (
        "shifts.csv",
        "0,night,false",
        "0,evening,false",
        "shifts.csv, row 2, column kind: expected one of day, night, call, clinic, home_call, admin, got 'evening'",
    ),
    (
        "shifts.csv",
        "call,true,true",
        "call,maybe,true",
        "shifts.csv, row 3, column in_house_call: expected true or false (also 1/0, yes/no), got 'maybe'",
    ),
    (
        "shifts.csv",
        "home_call,false",
        "home_call,true",
        "shifts.csv, row 4, column in_house_call: expected false for a home_call shift, got 'True'",
    ),
    # rotations.csv
    (
        "rotations.csv",
        "DAY;CALL24;HOME",
        "DAY;CALL48",
        "rotations.csv, row 1, column eligible_shifts: expected shift ids listed in shifts.csv, got 'CALL48'",
    ),
    (
        "rotations.csv",
        "night_float",
        "nights",
        "rotations.csv, row 2, column setting: expected one of inpatient, outpatient, night_float, elective, leave, got 'nights'",
    ),
    # rotation_assignments.csv
    (
        "rotation_assignments.csv",
        "R1,B2,NF",
        "R1,B2,ICU",
        "rotation_assignments.csv, row 4, column rotation_id: expected an id listed in rotations.csv, got 'ICU'",
    ),
    # coverage.csv
    (
        "coverage.csv",
        "DAY,daily,WARD,resident,,,1,2,2",
        "DAY,daily,WARD,resident,,,3,2,",
        "coverage.csv, row 1, column max: expected a number at least min, got '2'",
    ),
    (
        "coverage.csv",
        "DAY,daily,WARD,resident,,,1,2,2",
        "DAY,daily,WARD,resident,,,1,2,5",
        "coverage.csv, row 1, column target: expected a number between min and max, got '5'",
    ),
    (
        "coverage.csv",
        "NIGHT,daily",
        "NOON,daily",
        "coverage.csv, row 2, column shift_id: expected an id listed in shifts.csv, got 'NOON'",
    ),
    (
        "coverage.csv",
        "DAY,weekday",
        "DAY,workday",
        "coverage.csv, row 3, column applies_on: expected daily, weekday, weekend, a ';' list of mon..sun, or a date YYYY-MM-DD, got 'workday'",
    ),
    (
        "coverage.csv",
        "DAY,2027-07-04",
        "DAY,2027-02-30",
        "coverage.csv, row 4, column applies_on: expected a real calendar date, got '2027-02-30'",
    ),
    (
        "coverage.csv",
        "NIGHT,daily,NF,resident,,,1,1,",
        "NIGHT,daily,NF,resident,,,-1,1,",
        "coverage.csv, row 2, column min: expected a whole number 0 or more, got '-1'",
    ),
    (
        "coverage.csv",
        "DAY,weekday,,faculty",
        "DAY,weekday,,chief",
        "coverage.csv, row 3, column role: expected resident, faculty or empty, got 'chief'",
    ),
    # absences.csv
    (
        "absences.csv",
        "R1,2027-07-10",
        "R7,2027-07-10",
        "absences.csv, row 1, column person_id: expected an id listed in people.csv, got 'R7'",
    ),
    (
        "absences.csv",
        "conference,false",
        "holiday,false",
        "absences.csv, row 1, column type: expected one of vacation, sick, conference, parental, bereavement, medical, deployment, other, got 'holiday'",
    ),
    (
        "absences.csv",
        "F1,2027-08-01,2027-08-03",
        "F1,2028-08-01,2028-08-03",
        "absences.csv, row 2, column start_date: expected dates that fall in at least one block of blocks.csv, got 2028-08-01 to 2028-08-03",
    ),
    (
        "absences.csv",
        "F1,2027-08-01,2027-08-03",
        "F1,2027-08-01,2027-07-03",
        "absences.csv, row 2, column end_date: expected a date on or after start_date, got 2027-07-03",
    ),
    # requests.csv
    ("requests.csv", "DAY,off,3", "DAY,never,3", "requests.csv, row 1, column kind: expected on or off, got 'never'"),
    (
        "requests.csv",
        "DAY,off,3",
        "DAY,off,0",
        "requests.csv, row 1, column weight: expected a whole number 1 or more, got '0'",
    ),
    (
        "requests.csv",
        "CALL24,on",
        "CALL36,on",
        "requests.csv, row 3, column shift_id: expected an id listed in shifts.csv, got 'CALL36'",
    ),
    # history.csv
    (
        "history.csv",
        "R1,2027-06-29,DAY",
        "R1,2027-06-31,DAY",
        "history.csv, row 1, column date: expected a date (YYYY-MM-DD), got '2027-06-31'",
    ),
    (
        "history.csv",
        "R2,2027-06-30,CALL24",
        "R2,2027-06-30,SWING",
        "history.csv, row 2, column shift_id: expected an id listed in shifts.csv, got 'SWING'",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), CASES, ids=[c[3][:60] for c in CASES])
def test_each_broken_value_gets_its_exact_message(
    tiny_files: dict[str, bytes], file: str, old: str, new: str, message: str
) -> None:
    assert _messages(_replace(tiny_files, file, old, new)) == [message]


def test_duplicate_person_id_names_both_rows(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "people.csv", "F1,Faculty One", "R1,Faculty One")
    # references into people.csv wait until people.csv itself passes: no cascade
    assert _messages(files) == [
        "people.csv, row 1, column person_id: expected a unique value, got 'R1'",
        "people.csv, row 4, column person_id: expected a unique value, got 'R1'",
    ]


def _block_messages(files: dict[str, bytes], block_id: str) -> list[str]:
    """What the instance of a block says of a bundle that passed its contract (rotation_assignments.csv
    may leave residents or blocks out; the block made from it may not)."""
    bundle = parse_bundle(files)
    with pytest.raises(InputError) as caught:
        block_instance(bundle, block_id)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def test_unknown_person_in_rotation_also_leaves_the_real_one_without_a_rotation(
    tiny_files: dict[str, bytes],
) -> None:
    files = _replace(tiny_files, "rotation_assignments.csv", "R3,B2,WARD", "R9,B2,WARD")
    assert _messages(files) == [
        "rotation_assignments.csv, row 6, column person_id: expected an id listed in people.csv, got 'R9'",
    ]
    fixed = _replace(files, "rotation_assignments.csv", "R9,B2,WARD\n", "")
    assert _block_messages(fixed, "B2") == [
        "rotation_assignments.csv, column rotation_id: expected a rotation for resident R3 in block B2, got no row",
    ]


def test_unknown_block_in_rotation(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "rotation_assignments.csv", "R1,B2,NF", "R1,B3,NF")
    assert _messages(files) == [
        "rotation_assignments.csv, row 4, column block_id: expected an id listed in blocks.csv, got 'B3'",
    ]
    fixed = _replace(files, "rotation_assignments.csv", "R1,B3,NF\n", "")
    assert _block_messages(fixed, "B2") == [
        "rotation_assignments.csv, column rotation_id: expected a rotation for resident R1 in block B2, got no row",
    ]
    block_instance(parse_bundle(fixed), "B1")  # the other block is whole


def test_rotation_assignments_may_be_absent(tiny_files: dict[str, bytes]) -> None:
    """Optional once a year plan is published (docs/formats.md): the bundle parses, a block refuses."""
    files = {k: v for k, v in tiny_files.items() if k != "rotation_assignments.csv"}
    bundle = parse_bundle(files)
    assert bundle.frames["rotation_assignments"].empty
    assert list(bundle.frames["rotation_assignments"].columns) == [
        "person_id",
        "block_id",
        "rotation_id",
        "locked",
        "source",
    ]
    for block in ("B1", "B2"):
        assert _block_messages(files, block) == [
            f"rotation_assignments.csv, column block_id: expected a row for each resident in block {block} "
            f"(or plan the year: rotaflow plan-year), got no row for block {block}"
        ]


def test_missing_required_file_is_named(tiny_files: dict[str, bytes]) -> None:
    files = dict(tiny_files)
    del files["shifts.csv"]
    messages = _messages(files)
    assert "shifts.csv: expected the file to be present, got no such file" in messages


def test_optional_files_may_be_absent(tiny_files: dict[str, bytes]) -> None:
    files = {k: v for k, v in tiny_files.items() if k not in {"absences.csv", "requests.csv", "history.csv"}}
    bundle = parse_bundle(files)
    assert bundle.frames["absences"].empty and bundle.frames["history"].empty


def test_extra_files_are_kept_and_noted_not_read(tiny_files: dict[str, bytes]) -> None:
    bundle = parse_bundle({**tiny_files, "notes.txt": b"hello", "README.md": b"# ours"})
    assert bundle.notes == [
        "README.md: not a bundle file of docs/formats.md; kept, not read",
        "notes.txt: not a bundle file of docs/formats.md; kept, not read",
    ]
    assert bundle.content_hash == parse_bundle(tiny_files).content_hash  # the meaning is unchanged


def test_a_file_named_like_a_missing_bundle_file_is_refused(tiny_files: dict[str, bytes]) -> None:
    files = {k: v for k, v in tiny_files.items() if k != "absences.csv"}
    files["absence.csv"] = tiny_files["absences.csv"]  # the leave would silently be lost
    assert _messages(files) == [
        "absence.csv: expected the bundle file absences.csv (extra files are allowed, but this looks like a "
        "misspelling of it), got an unknown file"
    ]


def test_missing_column_is_named(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "blocks.csv", "block_id,start_date,end_date", "block_id,start_date,finish")
    assert _messages(files) == ["blocks.csv, column end_date: expected a column named end_date, got no such column"]


def test_extra_columns_are_ignored_and_noted(tiny_files: dict[str, bytes]) -> None:
    text = tiny_files["blocks.csv"].decode().splitlines()
    widened = [text[0] + ",academic_year,Notes (free text)"] + [line + ",2027-28,x" for line in text[1:] if line]
    bundle = parse_bundle({**tiny_files, "blocks.csv": ("\n".join(widened) + "\n").encode()})
    assert list(bundle.frames["blocks"].columns) == list(parse_bundle(tiny_files).frames["blocks"].columns)
    assert bundle.notes == [
        "blocks.csv: column academic_year is not read by rotaflow; ignored",
        "blocks.csv: column #5 is not read by rotaflow; ignored",
    ]


def test_a_column_named_like_a_missing_one_is_refused(tiny_files: dict[str, bytes]) -> None:
    old = tiny_files["shifts.csv"].decode().splitlines()[0]
    assert "transition_minutes" in old
    files = _replace(tiny_files, "shifts.csv", old, old.replace("transition_minutes", "transtion_minutes"))
    assert _messages(files) == [
        "shifts.csv, column transtion_minutes: expected the column transition_minutes (extra columns are allowed, "
        "but this looks like a misspelling of it), got an unknown column"
    ]


def test_optional_columns_may_be_absent(tiny_files: dict[str, bytes]) -> None:
    text = "person_id,name,role,pgy\nR1,A,resident,1\nR2,B,resident,2\nR3,C,resident,3\nF1,D,faculty,\n"
    bundle = parse_bundle({**tiny_files, "people.csv": text.encode()})
    assert bundle.frames["people"]["fte"].isna().all()


def test_repeated_column_is_refused(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "rotations.csv", "rotation_id,name,", "rotation_id,name,name,")
    assert "rotations.csv, column name: expected each column once, got a repeated column" in _messages(files)


def test_row_with_wrong_field_count_is_located(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "blocks.csv", "B2,2027-07-29,2027-08-25", "B2,2027-07-29,2027-08-25,extra")
    assert _messages(files) == ["blocks.csv, row 2: expected 3 fields as in the header, got 4 fields"]


def test_empty_required_file(tiny_files: dict[str, bytes]) -> None:
    assert _messages({**tiny_files, "coverage.csv": b""}) == [
        "coverage.csv: expected a header row with the columns shift_id, applies_on, min, got an empty file"
    ]


def test_header_only_required_file(tiny_files: dict[str, bytes]) -> None:
    assert _messages({**tiny_files, "blocks.csv": b"block_id,start_date,end_date\n"}) == [
        "blocks.csv: expected at least 1 data row(s), got none"
    ]


def test_non_utf8_file(tiny_files: dict[str, bytes]) -> None:
    messages = _messages({**tiny_files, "requests.csv": b"person_id,date\n\xff\xfe junk"})
    assert messages == ["requests.csv: expected UTF-8 text, got a byte that is not UTF-8 at offset 15"]


def test_binary_junk_with_nul_bytes(tiny_files: dict[str, bytes]) -> None:
    messages = _messages({**tiny_files, "absences.csv": b"person_id\n\x00\x01\x02"})
    assert messages == ["absences.csv, row 1: expected text without NUL bytes, got binary data"]


def test_resident_without_rotation_in_a_block(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "rotation_assignments.csv", "R3,B2,WARD\n", "")
    assert parse_bundle(files).frames["rotation_assignments"]["block_id"].tolist().count("B2") == 2  # partial: read
    assert _block_messages(files, "B2") == [
        "rotation_assignments.csv, column rotation_id: expected a rotation for resident R3 in block B2, got no row"
    ]


def test_a_block_without_any_rotation_row(tiny_files: dict[str, bytes]) -> None:
    text = tiny_files["rotation_assignments.csv"].decode()
    kept = "".join(line for line in text.splitlines(keepends=True) if ",B2," not in line)
    files = {**tiny_files, "rotation_assignments.csv": kept.encode()}
    assert _block_messages(files, "B2") == [
        "rotation_assignments.csv, column block_id: expected a row for each resident in block B2 "
        "(or plan the year: rotaflow plan-year), got no row for block B2"
    ]
    block_instance(parse_bundle(files), "B1")  # a planned block is built as before


def test_duplicate_rotation_row(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "rotation_assignments.csv", "R3,B2,WARD", "R3,B2,WARD\nR3,B2,NF")
    assert _messages(files) == [
        "rotation_assignments.csv, row 6: expected a unique combination of person_id, block_id, got a repeated row",
        "rotation_assignments.csv, row 7: expected a unique combination of person_id, block_id, got a repeated row",
    ]


def test_excel_artifacts_are_accepted(tiny_files: dict[str, bytes]) -> None:
    """A byte-order mark, CRLF line ends and padded cells mean the same bundle."""
    people = tiny_files["people.csv"].decode().replace(",", " , ").replace("\n", "\r\n")
    files = {**tiny_files, "people.csv": b"\xef\xbb\xbf" + people.encode()}
    assert parse_bundle(files).content_hash == parse_bundle(tiny_files).content_hash


def test_blank_line_keeps_row_numbers(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "blocks.csv", "B2,2027-07-29,2027-08-25", "\nB2,2027-07-29,bad")
    assert _messages(files) == ["blocks.csv, row 3, column end_date: expected a date (YYYY-MM-DD), got 'bad'"]


def test_all_problems_come_back_at_once(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "people.csv", "resident,2", "doctor,2")
    files = _replace(files, "shifts.csv", "DAY,Day ward,07:00", "DAY,Day ward,7am")
    files = _replace(files, "blocks.csv", "2027-08-25", "later")
    assert len(_messages(files)) == 3


def test_messages_never_carry_names_or_emails(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "people.csv", "R2,Resident Two,r2@example.org", "R2,,r2@@example.org")
    joined = "\n".join(_messages(files))
    assert "example.org" not in joined and "Resident" not in joined


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "blocks.csv",
            "2027-08-25",
            "9999-12-31",
            "blocks.csv, row 2, column end_date: expected a date from 1900-01-01 to 2199-12-31, got '9999-12-31'",
        ),
        (
            "people.csv",
            "resident,2",
            "resident,\uff13",
            "people.csv, row 2, column pgy: expected a whole number, got '\uff13'",
        ),
        (
            "shifts.csv",
            "home_call,false,true,2",
            "home_call,false,true,1_2",
            "shifts.csv, row 4, column home_call_hours: expected a number, got '1_2'",
        ),
        (
            "history.csv",
            "R1,2027-06-29,DAY",
            "R1,2027-06-29,DAY,2027-06-29T99:00:00-04:00",
            "history.csv, row 1, column start: expected a real time of day with its offset, got '2027-06-29T99:00:00-04:00'",
        ),
    ],
    ids=["far-date", "fullwidth-digit", "underscore-number", "impossible-hour"],
)
def test_values_that_only_look_valid(tiny_files: dict[str, bytes], file: str, old: str, new: str, message: str) -> None:
    files = _replace(tiny_files, file, old, new)
    if file == "history.csv":
        files = _replace(files, "history.csv", "person_id,date,shift_id", "person_id,date,shift_id,start")
        files = _replace(files, "history.csv", "R2,2027-06-30,CALL24", "R2,2027-06-30,CALL24,")
    assert _messages(files) == [message]


@pytest.mark.parametrize(
    "text",
    [
        "name: X\ntimezone: UTC\nstarts: 2027-02-30\n",
        "name: !!int x\ntimezone: UTC\n",
        "[" * 3000,
        "x: !!timestamp x\n",
    ],
    ids=["impossible-date", "bad-tag", "deep-nesting", "bad-timestamp"],
)
def test_hostile_yaml_is_a_located_problem(tiny_files: dict[str, bytes], text: str) -> None:
    messages = _messages({**tiny_files, "program.yaml": text.encode()})
    assert len(messages) == 1 and messages[0].startswith("program.yaml") and "expected valid YAML" in messages[0]


def test_odd_header_cells_are_named_by_position(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "blocks.csv", "block_id,start_date,end_date", 'block_id,"x\ny",end_date')
    assert _messages(files) == [
        "blocks.csv, column #2 (a header cell that is not a column name; is the header row missing?): "
        "expected a header row of column names, got an unknown column",
        "blocks.csv, column start_date: expected a column named start_date, got no such column",
    ]


def test_a_people_file_without_its_header_row_shows_no_personal_data(tiny_files: dict[str, bytes]) -> None:
    text = tiny_files["people.csv"].decode().split("\n", 1)[1]  # drop the header row
    joined = "\n".join(_messages({**tiny_files, "people.csv": text.encode()}))
    assert "Resident" not in joined and "example.org" not in joined
    assert "is the header row missing?" in joined


def test_an_email_in_any_column_is_hidden(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "people.csv", "R3,Resident Three,,resident", "r3@example.org,Resident Three,,resident")
    files = _replace(files, "absences.csv", "R1,2027-07-10", "r1@example.org,2027-07-10")
    joined = "\n".join(_messages(files))
    assert "example.org" not in joined
    assert "people.csv, row 3, column person_id: expected an id of letters" in joined


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("shifts.csv", "call,true,true", "call,TRUE,Yes"),
        ("shifts.csv", "day,false,true", "day,0,1"),
        ("absences.csv", "conference,false", "conference,No"),
        ("people.csv", "procedures;ob", "procedures ; ob"),
        ("rotations.csv", "DAY;CALL24;HOME", "DAY; CALL24 ;HOME"),
        ("coverage.csv", "DAY,weekday,,faculty", "DAY,mon; tue;wed;thu;fri,,faculty"),
    ],
    ids=["TRUE-Yes", "0-1", "No", "spaced-skills", "spaced-shift-list", "spaced-day-list"],
)
def test_allowed_spellings_are_accepted(tiny_files: dict[str, bytes], file: str, old: str, new: str) -> None:
    bundle = parse_bundle(_replace(tiny_files, file, old, new))
    if file == "rotations.csv":
        assert bundle.frames["rotations"].at[1, "eligible_shifts"] == "DAY;CALL24;HOME"
    if file == "people.csv":
        assert bundle.frames["people"].at[3, "skills"] == "procedures;ob"


def test_counts_as_work_may_be_left_out(tiny_files: dict[str, bytes]) -> None:
    text = (
        "shift_id,name,start,end,kind,in_house_call\nDAY,Day,07:00,19:00,day,false\nNIGHT,N,19:00,07:00,night,false\n"
    )
    text += "CALL24,C,07:00,07:00,call,true\nHOME,H,17:00,07:00,home_call,false\n"
    bundle = parse_bundle({**tiny_files, "shifts.csv": text.encode()})
    assert bundle.frames["shifts"]["counts_as_work"].isna().all()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rules: {start: 2027-07-01}", "plain values"),
        ("1: a\nb: c", "plain values"),
        ("rules:\n  - rule: coverage\n    weight: .nan", "plain values"),
        ("rules:\n  - rule: no_such_rule", "is not a registered rule"),
        ("rules:\n  - rule: acgme_weekly_hours\n    params: {limit_hours: 100}", "limit_hours"),
        ("rules:\n  - rule: shift_requests\n    kind: hard", "cannot be hard"),
        ("- just\n- a list", "a mapping of rule settings"),
    ],
)
def test_constraints_yaml_is_checked_against_the_rule_engine(
    tiny_files: dict[str, bytes], text: str, fragment: str
) -> None:
    messages = _messages({**tiny_files, "constraints.yaml": text.encode()})
    assert len(messages) >= 1 and all(m.startswith("constraints.yaml") for m in messages)
    assert any(fragment in m for m in messages)


def test_valid_constraints_yaml_is_kept(tiny_files: dict[str, bytes]) -> None:
    text = "rules:\n  - rule: acgme_weekly_hours\n    params: {limit_hours: 84}\n"
    bundle = parse_bundle({**tiny_files, "constraints.yaml": text.encode()})
    assert bundle.constraints == {"rules": [{"params": {"limit_hours": 84}, "rule": "acgme_weekly_hours"}]}


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posix/America/New_York"])
def test_host_dependent_timezones_are_refused(tiny_files: dict[str, bytes], zone: str) -> None:
    files = _replace(tiny_files, "program.yaml", "America/New_York", zone)
    assert _messages(files) == [
        f"program.yaml, column timezone: expected an IANA timezone name such as Pacific/Honolulu, got '{zone}'"
    ]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Tiny Internal Medicine Residency", "tiny-internal-medicine-residency"),
        ("Médecine Générale", "medecine-generale"),
    ],
)
def test_program_key_is_a_slug_of_the_name(tiny_files: dict[str, bytes], name: str, key: str) -> None:
    files = _replace(tiny_files, "program.yaml", "Tiny Internal Medicine Residency", name)
    assert parse_bundle(files).program.key == key


def test_names_without_ascii_letters_get_distinct_keys(tiny_files: dict[str, bytes]) -> None:
    keys = {
        parse_bundle(_replace(tiny_files, "program.yaml", "Tiny Internal Medicine Residency", name)).program.key
        for name in ("内科", "外科")
    }
    assert len(keys) == 2 and all(k.startswith("program-") for k in keys)


def test_program_id_keeps_identity_across_renames(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "program.yaml", "name: Tiny", "id: tiny-im\nname: Renamed Tiny")
    assert parse_bundle(files).program.key == "tiny-im"


def test_the_swaps_section_is_optional_and_takes_what_a_plain_yaml_parser_reads(
    tiny_files: dict[str, bytes],
) -> None:
    default = parse_bundle(tiny_files).program.swaps
    assert (default.approval, default.undo_hours) == ("coordinator", 24.0)
    given = _replace(tiny_files, "program.yaml", "timezone:", "swaps:\n  approval: none\n  undo_hours: -0\ntimezone:")
    swaps = parse_bundle(given).program.swaps
    assert (swaps.approval, swaps.undo_hours) == ("none", 0.0)
