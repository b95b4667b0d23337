"""The Curtois & Qu reader on files written in every way the published format allows, and its limits."""

from __future__ import annotations

from pathlib import Path

import pytest

import rotaflow.constraints.curtois as curtois
from rotaflow.constraints.curtois import (
    CurtoisCover,
    CurtoisRequest,
    CurtoisShift,
    CurtoisStaff,
    load_curtois,
    parse_curtois,
    roster_from_csv,
    roster_to_csv,
)
from rotaflow.errors import InputError

PLAIN = """\
SECTION_HORIZON
14

SECTION_SHIFTS
Day,480,
Late,600,Day|Night
Night,720,Day

SECTION_STAFF
A,Day=14|Late=7|Night=0,6000,960,5,2,2,1
BB,Day=14,6000,0,5,1,1,2

SECTION_DAYS_OFF
A,0,13
BB

SECTION_SHIFT_ON_REQUESTS
A,3,Day,2

SECTION_SHIFT_OFF_REQUESTS
BB,4,Late,3

SECTION_COVER
0,Day,0,100,1
0,Late,3,100,1
1,Night,7,50,2
"""

# The same instance as a published file might write it: a byte order mark, CRLF, comments, blank
# lines, the sections in another order, whitespace and trailing commas, numbers with signs and
# leading zeros, and a requirement of -0.
QUIRKY = (
    "\ufeff# Curtois & Qu instance, written by hand\r\n"
    "SECTION_COVER\r\n"
    "# Day, ShiftID, Requirement, Weight for under-cover, Weight for over-cover\r\n"
    " 0 , Day , -0 , +100 , 01 ,\r\n"
    "0,Late,+3,100,1,, \r\n"
    "\t001,Night,0007,050,+2\r\n"
    "\r\n"
    "\r\n"
    "SECTION_SHIFT_OFF_REQUESTS   \r\n"
    "BB , +4 , Late , 3   # a wish\r\n"
    "SECTION_SHIFTS,\r\n"
    "Day , 480 ,\r\n"
    "Late,600, Day | Night \r\n"
    "Night,+720,Day,\r\n"
    "SECTION_DAYS_OFF\r\n"
    "A, 0 ,+13,\r\n"
    "BB,\r\n"
    "SECTION_SHIFT_ON_REQUESTS\r\n"
    "A,03,Day,+2\r\n"
    "SECTION_STAFF\r\n"
    "A, Day = 14 | Late=+7 | Night=-0 , 6000, 0960, +5, 2, 2, 1\r\n"
    "BB,Day=14,6000,-0,5,1,1,2\r\n"
    "SECTION_HORIZON\r\n"
    "+14 ,\r\n"
)


def test_the_plain_instance_reads_as_written() -> None:
    inst = parse_curtois(PLAIN, name="plain")
    assert inst.horizon == 14
    assert inst.shifts == (
        CurtoisShift("Day", 480),
        CurtoisShift("Late", 600, ("Day", "Night")),
        CurtoisShift("Night", 720, ("Day",)),
    )
    assert inst.staff == (
        CurtoisStaff("A", {"Day": 14, "Late": 7, "Night": 0}, 6000, 960, 5, 2, 2, 1),
        CurtoisStaff("BB", {"Day": 14}, 6000, 0, 5, 1, 1, 2),  # no limit on Late and Night
    )
    assert inst.days_off == {"A": frozenset({0, 13}), "BB": frozenset()}
    assert inst.on_requests == (CurtoisRequest("A", 3, "Day", 2),)
    assert inst.off_requests == (CurtoisRequest("BB", 4, "Late", 3),)
    assert inst.cover == (
        CurtoisCover(0, "Day", 0, 100, 1),
        CurtoisCover(0, "Late", 3, 100, 1),
        CurtoisCover(1, "Night", 7, 50, 2),
    )


def test_a_quirky_file_gives_the_same_instance(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_bytes(QUIRKY.encode())
    assert load_curtois(path) == parse_curtois(PLAIN, name="plain")


@pytest.mark.parametrize(("written", "value"), [("-0", 0), ("+3", 3), ("007", 7), (" 12 ", 12), ("+0", 0)])
def test_a_requirement_is_read_as_a_plain_integer_reader_reads_it(written: str, value: int) -> None:
    inst = parse_curtois(PLAIN.replace("0,Late,3,", f"0,Late,{written},"))
    assert inst.cover[1].requirement == value


def test_requests_and_days_off_may_be_absent_or_empty() -> None:
    no_sections = PLAIN.split("SECTION_DAYS_OFF")[0] + "SECTION_COVER" + PLAIN.split("SECTION_COVER")[1]
    empty_sections = (
        PLAIN.replace("A,0,13\nBB\n", "").replace("A,3,Day,2\n", "# none\n").replace("BB,4,Late,3\n", " , ,\n")
    )
    for text in (no_sections, empty_sections):
        inst = parse_curtois(text)
        assert (inst.days_off, inst.on_requests, inst.off_requests) == ({}, (), ())
        assert len(inst.cover) == 3


def _messages(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_curtois(text, name="plain", file="plain.txt")
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("0,Late,3,", "0,Late,-1,", "row 25, column Requirement: expected a whole number of staff, got '-1'"),
        ("0,Late,3,", "0,Late,- 1,", "row 25, column Requirement: expected a whole number of staff, got '- 1'"),
        ("0,Late,3,", "0,Late,3.0,", "row 25, column Requirement: expected a whole number of staff, got '3.0'"),
        ("0,Late,3,", "0,Late,1_0,", "row 25, column Requirement: expected a whole number of staff, got '1_0'"),
        ("0,Late,3,", "0,Late,+-3,", "row 25, column Requirement: expected a whole number of staff, got '+-3'"),
        (
            "0,Late,3,",
            "0,Early,3,",
            "row 25, column ShiftID: expected a shift id defined in SECTION_SHIFTS, got 'Early'",
        ),
        ("1,Night,7,50,2", "1,Night,7,-50,2", "row 26, column WeightUnder: expected a whole-number weight, got '-50'"),
        ("1,Night,", "14,Night,", "row 26, column Day: expected a day index from 0 to 13, got '14'"),
        ("1,Night,", "-1,Night,", "row 26, column Day: expected a day index from 0 to 13, got '-1'"),
        ("A,0,13", "A,0,+14", "row 14, column DayIndexes: expected a day index from 0 to 13, got '+14'"),
        (
            "A,3,Day,2",
            "A,3,Dusk,2",
            "row 18, column ShiftID: expected a shift id defined in SECTION_SHIFTS, got 'Dusk'",
        ),
        (
            "BB,Day=14,6000,",
            "BB,Day=14,6000000000,",
            "row 11, column MaxTotalMinutes: expected a whole number of minutes, at most 1000000000, got '6000000000'",
        ),
        (
            "A,3,Day,2",
            "A,3,Day," + "9" * 5000,
            "row 18, column Weight: expected a whole-number weight, at most 1000000000, got '" + "9" * 57 + "...'",
        ),
        (
            "\n14\n",
            "\n99999\n",
            "row 2, column horizon: expected a whole number of days, at least 1 and at most 3660, got '99999'",
        ),
        ("\n14\n", "\n-0\n", "row 2, column horizon: expected a whole number of days, at least 1, got '-0'"),
    ],
)
def test_bad_values_are_located(old: str, new: str, expected: str) -> None:
    assert old in PLAIN, old
    text = PLAIN.replace(old, new, 1)
    assert f"plain.txt, {expected}" in _messages(text)


def test_a_file_above_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Big.txt"
    path.write_text(PLAIN)
    monkeypatch.setattr(curtois, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError) as caught:
        load_curtois(path)
    assert [str(p) for p in caught.value.problems] == [
        f"Big.txt: expected a file of at most 100 bytes, got {len(PLAIN)} bytes"
    ]


def test_a_file_above_the_line_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(curtois, "MAX_LINES", 10)
    lines = len(PLAIN.splitlines())
    assert _messages(PLAIN) == [f"plain.txt: expected a file of at most 10 lines, got {lines} lines"]


# --------------------------------------------------------------------------- roster as CSV


def test_a_roster_goes_to_csv_sorted_and_back() -> None:
    roster = {"BB": {4: "Late", 1: "Day"}, "A": {13: "Night", 2: "Day"}, "C": {}}
    text = roster_to_csv(roster)
    assert text == "employee,day,shift\nA,2,Day\nA,13,Night\nBB,1,Day\nBB,4,Late\n"
    assert roster_from_csv(text) == {"A": {2: "Day", 13: "Night"}, "BB": {1: "Day", 4: "Late"}}
    assert roster_from_csv("\ufeffemployee, day, shift\r\nA, 2 ,Day\r\n\r\n") == {"A": {2: "Day"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["r.csv: expected a header employee,day,shift, got nothing"]),
        ("staff,day,shift\n", ["r.csv: expected a header employee,day,shift, got 'staff,day,shift'"]),
        ("employee,day,shift\nA,x,Day\n", ["r.csv, row 1, column day: expected a whole-number day index, got 'x'"]),
        ("employee,day,shift\nA,-1,Day\n", ["r.csv, row 1, column day: expected a whole-number day index, got '-1'"]),
        ("employee,day,shift\nA,1\n", ["r.csv, row 1: expected 3 fields: employee, day, shift, got 2 fields"]),
        (
            "employee,day,shift\nA,1,Day\nA,1,Late\n",
            ["r.csv, row 2, column day: expected one row per employee and day ('A' twice), got 1"],
        ),
    ],
)
def test_a_bad_roster_csv_is_located(text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        roster_from_csv(text, file="r.csv")
    assert [str(p) for p in caught.value.problems] == expected


def test_a_file_above_the_size_limit_is_not_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "Big.txt"
    path.write_text(PLAIN * 50)
    monkeypatch.setattr(curtois, "MAX_FILE_BYTES", 100)
    asked: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object) -> object:
        handle = real_open(self, *args, **kwargs)  # type: ignore[arg-type]
        real_read = handle.read

        def read(size: int = -1) -> bytes:
            asked.append(size)
            return real_read(size)

        handle.read = read  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(Path, "open", counting_open)
    with pytest.raises(InputError) as caught:
        load_curtois(path)
    assert asked == [101]
    assert [str(p) for p in caught.value.problems] == [
        f"Big.txt: expected a file of at most 100 bytes, got {len(PLAIN) * 50} bytes"
    ]


def test_weights_whose_worst_total_overflows_are_refused() -> None:
    heavy = PLAIN.replace("SECTION_COVER\n", "SECTION_COVER\n2,Day,900000000,900000000,900000000\n", 1)
    assert heavy != PLAIN
    messages = _messages(heavy)
    assert len(messages) == 1 and messages[0].startswith(
        f"plain.txt: expected weights whose worst total stays within {curtois.MAX_OBJECTIVE}, got "
    ), messages
    fine = parse_curtois(PLAIN.replace("SECTION_COVER\n", "SECTION_COVER\n2,Day,9000,9000,9000\n", 1), name="plain")
    assert CurtoisCover(2, "Day", 9000, 9000, 9000) in fine.cover
