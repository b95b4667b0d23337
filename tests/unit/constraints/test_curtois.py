"""The Curtois & Qu benchmark reader and the independent evaluator of its rules and objective."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rotaflow.constraints.curtois import (
    CurtoisCover,
    CurtoisInstance,
    CurtoisRequest,
    CurtoisShift,
    CurtoisStaff,
    Roster,
    evaluate,
    load_curtois,
    parse_curtois,
    roster_from_text,
    roster_to_text,
)
from rotaflow.errors import InputError

BENCH = Path("/work/shared/benchmarks/curtois")
BEST_KNOWN = list(csv.DictReader((BENCH / "best_known.csv").read_text().splitlines()))

# Line numbers matter: the error messages below name them.
TINY = """\
# tiny
SECTION_HORIZON
7

SECTION_SHIFTS
E,480,
L,600,E

SECTION_STAFF
A,E=7|L=7,4800,0,5,1,1,2
B,E=7|L=0,4800,0,5,1,1,2

SECTION_DAYS_OFF
A,0
B,5,6

SECTION_SHIFT_ON_REQUESTS
A,1,E,2

SECTION_SHIFT_OFF_REQUESTS
B,2,E,3

SECTION_COVER
0,E,1,100,1
0,L,1,100,1
1,E,1,100,1
"""


def _tiny() -> CurtoisInstance:
    return parse_curtois(TINY, name="tiny", file="tiny.txt")


def _messages(text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_curtois(text, name="tiny", file="tiny.txt")
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------- shared instances


@pytest.mark.parametrize("row", BEST_KNOWN, ids=[r["instance"] for r in BEST_KNOWN])
def test_every_shared_instance_parses_with_its_published_size(row: dict[str, str]) -> None:
    inst = load_curtois(BENCH / f"{row['instance']}.txt")
    assert inst.name == row["instance"]
    assert inst.horizon == int(row["days"])
    assert len(inst.staff) == int(row["staff"])
    assert len(inst.shifts) == int(row["shift_types"])
    assert len(inst.on_requests) == int(row["on_requests"])
    assert len(inst.off_requests) == int(row["off_requests"])
    # every person has days off, the cover names every day and shift once
    assert set(inst.days_off) == set(inst.staff_ids)
    assert {(c.day, c.shift) for c in inst.cover} == {(d, s) for d in range(inst.horizon) for s in inst.shift_ids}


def test_instance1_in_detail() -> None:
    inst = load_curtois(BENCH / "Instance1.txt")
    assert inst.shifts == (CurtoisShift("D", 480, ()),)
    assert inst.staff[0] == CurtoisStaff("A", {"D": 14}, 4320, 3360, 5, 2, 2, 1)
    assert inst.staff_by_id["H"].max_weekends == 1
    assert inst.shift_by_id["D"].minutes == 480
    assert inst.days_off["A"] == frozenset({0})
    assert inst.on_requests[0] == CurtoisRequest("A", 2, "D", 2)
    assert inst.off_requests[-1] == CurtoisRequest("H", 3, "D", 3)
    assert inst.cover[1] == CurtoisCover(1, "D", 7, 100, 1)
    assert inst.weekends == [(5, 6), (12, 13)]


def test_instance10_has_several_days_off_per_row_and_chains_of_forbidden_successions() -> None:
    inst = load_curtois(BENCH / "Instance10.txt")
    assert inst.days_off["A"] == frozenset({3, 7})
    assert inst.shift_by_id["E"].cannot_follow == ()
    assert inst.shift_by_id["N"].cannot_follow == ("E", "d1", "d2", "L")
    assert inst.shift_by_id["N"].minutes == 600
    assert inst.staff_by_id["A"].max_shifts == {"E": 0, "d1": 28, "d2": 0, "L": 28, "N": 0}


def test_crlf_lf_cr_bom_and_trailing_junk_give_the_same_instance() -> None:
    crlf = (BENCH / "Instance2.txt").read_bytes().decode()
    assert "\r\n" in crlf
    lf = crlf.replace("\r\n", "\n")
    cr = crlf.replace("\r\n", "\r")
    messy = "\ufeff" + "\n".join(
        line if not line or line.startswith(("#", "SECTION")) else "  " + line.replace(",", " , ") + " ,, \t"
        for line in lf.split("\n")
    )
    reference = parse_curtois(lf, name="Instance2")
    assert parse_curtois(crlf, name="Instance2") == reference
    assert parse_curtois(cr, name="Instance2") == reference
    assert parse_curtois(messy, name="Instance2") == reference
    assert load_curtois(BENCH / "Instance2.txt") == reference


def test_sections_may_come_in_any_order_with_inline_comments_and_bare_comma_lines() -> None:
    blocks = TINY.split("\n\n")
    shuffled = "\n\n".join(reversed(blocks))
    assert parse_curtois(shuffled, name="tiny") == parse_curtois(TINY, name="tiny")
    noisy = (
        TINY.replace("A,0\n", "A,0  # fixed day off\n,,,\n")
        .replace("SECTION_COVER", "section_cover,")
        .replace("L,600,E", "L,600,|E|E|")
        .replace("A,E=7|L=7,", "A,E=7||L=7|,")
    )
    assert parse_curtois(noisy, name="tiny") == parse_curtois(TINY, name="tiny")


def test_optional_sections_may_be_absent_and_max_shifts_may_be_empty() -> None:
    text = "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,\nSECTION_STAFF\nA,,4800,0,5,1,1,2\nSECTION_COVER\n"
    inst = parse_curtois(text)
    assert inst.name == "instance"
    assert inst.staff[0].max_shifts == {}
    assert inst.days_off == {} and inst.on_requests == () and inst.off_requests == () and inst.cover == ()
    assert evaluate(inst, {"A": dict.fromkeys(range(5), "D")}).hard_violations == []


@pytest.mark.parametrize(
    ("horizon", "weekends"),
    [
        (14, [(5, 6), (12, 13)]),
        (13, [(5, 6), (12,)]),
        (7, [(5, 6)]),
        (6, [(5,)]),
        (5, []),
        (1, []),
    ],
)
def test_weekends_are_saturday_sunday_pairs_and_a_trailing_lone_saturday(
    horizon: int, weekends: list[tuple[int, ...]]
) -> None:
    inst = CurtoisInstance("w", horizon, (), (), {}, (), (), ())
    assert inst.weekends == weekends


# --------------------------------------------------------------------------- parse errors


def test_the_tiny_instance_is_valid() -> None:
    inst = _tiny()
    assert inst.horizon == 7
    assert inst.shift_ids == ["E", "L"]
    assert inst.staff_ids == ["A", "B"]
    assert inst.days_off == {"A": frozenset({0}), "B": frozenset({5, 6})}
    assert inst.shift_by_id["L"] == CurtoisShift("L", 600, ("E",))


SECTIONS_LIST = (
    "SECTION_HORIZON, SECTION_SHIFTS, SECTION_STAFF, SECTION_DAYS_OFF, "
    "SECTION_SHIFT_ON_REQUESTS, SECTION_SHIFT_OFF_REQUESTS, SECTION_COVER"
)
STAFF_FIELDS = (
    "8 fields: ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, "
    "MinConsecutiveShifts, MinConsecutiveDaysOff, MaxWeekends"
)

# (old text, new text, every exact message expected)
ERROR_CASES = [
    # structure
    ("# tiny\n", "tiny\n", ["tiny.txt, row 1: expected a SECTION_ header before any data, got 'tiny'"]),
    (
        "SECTION_COVER",
        "SECTION_COVERS",
        [
            "tiny.txt, column SECTION_COVER: expected a SECTION_COVER section, got none",
            f"tiny.txt, row 23: expected a known section header ({SECTIONS_LIST}), got 'SECTION_COVERS'",
        ],
    ),
    (
        "1,E,1,100,1\n",
        "1,E,1,100,1\nSECTION_HORIZON\n8\n",
        ["tiny.txt, row 27, column SECTION_HORIZON: expected each section once (first on line 2), got a repeat"],
    ),
    # horizon
    (
        "\n7\n",
        "\nseven\n",
        ["tiny.txt, row 3, column horizon: expected a whole number of days, at least 1, got 'seven'"],
    ),
    ("\n7\n", "\n0\n", ["tiny.txt, row 3, column horizon: expected a whole number of days, at least 1, got '0'"]),
    (
        "\n7\n",
        "\n7\n8\n",
        ["tiny.txt, row 4, column SECTION_HORIZON: expected one line with the number of days, got another line"],
    ),
    (
        "SECTION_HORIZON\n7\n",
        "SECTION_HORIZON\n",
        ["tiny.txt, column SECTION_HORIZON: expected one line with the number of days, got nothing"],
    ),
    (
        "SECTION_HORIZON\n7\n\n",
        "",
        [
            "tiny.txt, column SECTION_HORIZON: expected a SECTION_HORIZON section, got none",
            "tiny.txt, row 12, column DayIndexes: expected a whole-number day index, got 'x'",
        ],
    ),
    # shifts
    ("E,480,", "E,8h,", ["tiny.txt, row 6, column Length: expected a whole number of minutes, got '8h'"]),
    (
        "L,600,E",
        "L,600,E|X",
        ["tiny.txt, row 7, column CannotFollow: expected a shift id defined in SECTION_SHIFTS, got 'X'"],
    ),
    (
        "E,480,\n",
        "E,480,\nE,300,\n",
        ["tiny.txt, row 7, column ShiftID: expected a shift id not already defined (first on line 6), got 'E'"],
    ),
    ("E,480,\n", "E,480,\n,600,\n", ["tiny.txt, row 7, column ShiftID: expected a shift id, got nothing"]),
    (
        "E,480,\n",
        "E\n",
        ["tiny.txt, row 6, column SECTION_SHIFTS: expected 2 or 3 fields: ShiftID, Length, CannotFollow, got 1 field"],
    ),
    (
        "E,480,\n",
        "E,480,,x\n",
        ["tiny.txt, row 6, column SECTION_SHIFTS: expected 2 or 3 fields: ShiftID, Length, CannotFollow, got 4 fields"],
    ),
    # staff
    (
        "A,E=7|L=7,4800,0,5,1,1,2",
        "A,E=7|L=7,4800,0,5,1,1",
        [f"tiny.txt, row 10, column SECTION_STAFF: expected {STAFF_FIELDS}, got 7 fields"],
    ),
    (
        "A,E=7|L=7,",
        "A,E7|L=7,",
        ["tiny.txt, row 10, column MaxShifts: expected ShiftID=max pairs separated by |, got 'E7'"],
    ),
    (
        "A,E=7|L=7,",
        "A,E=7|N=7,",
        ["tiny.txt, row 10, column MaxShifts: expected a shift id defined in SECTION_SHIFTS, got 'N'"],
    ),
    (
        "A,E=7|L=7,",
        "A,E=seven|L=7,",
        ["tiny.txt, row 10, column MaxShifts: expected a whole number of shifts after =, got 'seven'"],
    ),
    ("A,E=7|L=7,", "A,E=7|E=3,", ["tiny.txt, row 10, column MaxShifts: expected each shift id once, got 'E=3'"]),
    (
        "A,E=7|L=7,4800,",
        "A,E=7|L=7,4800.5,",
        ["tiny.txt, row 10, column MaxTotalMinutes: expected a whole number of minutes, got '4800.5'"],
    ),
    (
        "A,E=7|L=7,4800,",
        "A,E=7|L=7,,",
        ["tiny.txt, row 10, column MaxTotalMinutes: expected a whole number of minutes, got nothing"],
    ),
    (
        "A,E=7|L=7,4800,0,",
        "A,E=7|L=7,4800,-1,",
        ["tiny.txt, row 10, column MinTotalMinutes: expected a whole number of minutes, got '-1'"],
    ),
    (
        "A,E=7|L=7,4800,0,5,",
        "A,E=7|L=7,4800,0,five,",
        ["tiny.txt, row 10, column MaxConsecutiveShifts: expected a whole number of days, got 'five'"],
    ),
    (
        "A,E=7|L=7,4800,0,5,1,",
        "A,E=7|L=7,4800,0,5,x,",
        ["tiny.txt, row 10, column MinConsecutiveShifts: expected a whole number of days, got 'x'"],
    ),
    (
        "A,E=7|L=7,4800,0,5,1,1,",
        "A,E=7|L=7,4800,0,5,1,y,",
        ["tiny.txt, row 10, column MinConsecutiveDaysOff: expected a whole number of days, got 'y'"],
    ),
    (
        "A,E=7|L=7,4800,0,5,1,1,2",
        "A,E=7|L=7,4800,0,5,1,1,two",
        ["tiny.txt, row 10, column MaxWeekends: expected a whole number of weekends, got 'two'"],
    ),
    (
        "B,E=7|L=0,4800,0,5,1,1,2\n",
        "B,E=7|L=0,4800,0,5,1,1,2\nA,E=7|L=7,4800,0,5,1,1,2\n",
        ["tiny.txt, row 12, column ID: expected a staff id not already defined (first on line 10), got 'A'"],
    ),
    (
        "B,E=7|L=0,4800,0,5,1,1,2\n",
        "B,E=7|L=0,4800,0,5,1,1,2\n,E=7,4800,0,5,1,1,2\n",
        ["tiny.txt, row 12, column ID: expected a staff id, got nothing"],
    ),
    # days off
    ("A,0\n", "Z,0\n", ["tiny.txt, row 14, column EmployeeID: expected a staff id defined in SECTION_STAFF, got 'Z'"]),
    ("B,5,6", "B,5,7", ["tiny.txt, row 15, column DayIndexes: expected a day index from 0 to 6, got '7'"]),
    ("B,5,6", "B,5,x", ["tiny.txt, row 15, column DayIndexes: expected a day index from 0 to 6, got 'x'"]),
    # requests
    (
        "A,1,E,2",
        "Z,9,N,-2",
        [
            "tiny.txt, row 18, column Day: expected a day index from 0 to 6, got '9'",
            "tiny.txt, row 18, column EmployeeID: expected a staff id defined in SECTION_STAFF, got 'Z'",
            "tiny.txt, row 18, column ShiftID: expected a shift id defined in SECTION_SHIFTS, got 'N'",
            "tiny.txt, row 18, column Weight: expected a whole-number weight, got '-2'",
        ],
    ),
    (
        "A,1,E,2",
        "A,1,E",
        [
            "tiny.txt, row 18, column SECTION_SHIFT_ON_REQUESTS: expected 4 fields: EmployeeID, Day, ShiftID, Weight, "
            "got 3 fields"
        ],
    ),
    ("B,2,E,3", "B,2,E,3x", ["tiny.txt, row 21, column Weight: expected a whole-number weight, got '3x'"]),
    # cover
    (
        "0,E,1,100,1",
        "x,Q,one,a,b",
        [
            "tiny.txt, row 24, column Day: expected a day index from 0 to 6, got 'x'",
            "tiny.txt, row 24, column Requirement: expected a whole number of staff, got 'one'",
            "tiny.txt, row 24, column ShiftID: expected a shift id defined in SECTION_SHIFTS, got 'Q'",
            "tiny.txt, row 24, column WeightOver: expected a whole-number weight, got 'b'",
            "tiny.txt, row 24, column WeightUnder: expected a whole-number weight, got 'a'",
        ],
    ),
    (
        "1,E,1,100,1",
        "0,E,2,100,1",
        ["tiny.txt, row 26, column ShiftID: expected one cover row per day and shift (first on line 24), got 'E'"],
    ),
    (
        "0,L,1,100,1",
        "0,L,1,100",
        [
            "tiny.txt, row 25, column SECTION_COVER: expected 5 fields: Day, ShiftID, Requirement, WeightUnder, "
            "WeightOver, got 4 fields"
        ],
    ),
    # long values are cut short
    (
        "A,0\n",
        "A," + "9" * 80 + "\n",
        ["tiny.txt, row 14, column DayIndexes: expected a day index from 0 to 6, got '" + "9" * 57 + "...'"],
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), ERROR_CASES, ids=[f"{i:02d}" for i in range(len(ERROR_CASES))])
def test_each_parse_error_has_its_exact_message(old: str, new: str, expected: list[str]) -> None:
    assert old in TINY, old
    text = TINY.replace(old, new, 1)
    if old == "SECTION_HORIZON\n7\n\n":  # without a horizon, days are only checked for their form
        text = text.replace("B,5,6", "B,5,x")
    assert _messages(text) == expected


def test_an_empty_file_lacks_every_required_section() -> None:
    assert _messages("# nothing here\n") == [
        "tiny.txt, column SECTION_COVER: expected a SECTION_COVER section, got none",
        "tiny.txt, column SECTION_HORIZON: expected a SECTION_HORIZON section, got none",
        "tiny.txt, column SECTION_SHIFTS: expected a SECTION_SHIFTS section, got none",
        "tiny.txt, column SECTION_STAFF: expected a SECTION_STAFF section, got none",
    ]


def test_all_problems_are_collected_at_once() -> None:
    text = TINY.replace("E,480,", "E,x,").replace("A,0\n", "A,99\n").replace("B,2,E,3", "B,2,Q,3")
    assert _messages(text) == [
        "tiny.txt, row 6, column Length: expected a whole number of minutes, got 'x'",
        "tiny.txt, row 14, column DayIndexes: expected a day index from 0 to 6, got '99'",
        "tiny.txt, row 21, column ShiftID: expected a shift id defined in SECTION_SHIFTS, got 'Q'",
    ]


def test_the_file_name_defaults_to_the_instance_name() -> None:
    with pytest.raises(InputError) as caught:
        parse_curtois(TINY.replace("\n7\n", "\nx\n"), name="mine")
    assert [p.file for p in caught.value.problems] == ["mine"]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Bad.txt"
    path.write_bytes(b"SECTION_HORIZON\n\xff\n")
    with pytest.raises(InputError) as caught:
        load_curtois(path)
    assert [str(p) for p in caught.value.problems] == [
        "Bad.txt: expected UTF-8 text, got a byte that is not UTF-8 at offset 16"
    ]


# --------------------------------------------------------------------------- roster grid


def test_roster_text_round_trips() -> None:
    inst = _tiny()
    roster: Roster = {"A": {1: "E", 2: "L"}, "B": {0: "E"}}
    text = roster_to_text(inst, roster)
    assert text == "A . E L . . . .\nB E . . . . . .\n"
    assert roster_from_text(text) == roster
    assert roster_from_text("\ufeff# comment\n\nA . E  # trailing comment\nB\n") == {"A": {1: "E"}, "B": {}}


def test_roster_text_refuses_a_repeated_staff_id() -> None:
    with pytest.raises(InputError) as caught:
        roster_from_text("A E\nB .\nA L\n")
    assert [str(p) for p in caught.value.problems] == [
        "roster, row 3, column staff: expected each staff id once (first on line 1), got 'A'"
    ]


# --------------------------------------------------------------------------- evaluator


def _one(
    *,
    horizon: int = 14,
    shifts: str = "D,480,",
    staff: str = "A,D=99,99999,0,99,0,0,99",
    days_off: str = "",
    on: str = "",
    off: str = "",
    cover: str = "",
) -> CurtoisInstance:
    """A small instance, by default with no binding rule at all."""
    text = (
        f"SECTION_HORIZON\n{horizon}\nSECTION_SHIFTS\n{shifts}\nSECTION_STAFF\n{staff}\n"
        f"SECTION_DAYS_OFF\n{days_off}\nSECTION_SHIFT_ON_REQUESTS\n{on}\n"
        f"SECTION_SHIFT_OFF_REQUESTS\n{off}\nSECTION_COVER\n{cover}\n"
    )
    return parse_curtois(text, name="one")


def _days(*days: int, shift: str = "D") -> Roster:
    return {"A": dict.fromkeys(days, shift)}


def _violations(inst: CurtoisInstance, roster: Roster) -> list[str]:
    return evaluate(inst, roster).hard_violations


def test_objective_of_a_hand_made_instance() -> None:
    inst = parse_curtois(
        """\
SECTION_HORIZON
3
SECTION_SHIFTS
E,480,
L,480,E
SECTION_STAFF
A,E=3|L=3,10000,0,3,0,0,1
B,E=3|L=3,10000,0,3,0,0,1
C,E=3|L=3,10000,0,3,0,0,1
SECTION_SHIFT_ON_REQUESTS
A,0,E,5   # granted: 0
A,1,L,4   # A works E, not L: 4
B,2,E,3   # B is off: 3
SECTION_SHIFT_OFF_REQUESTS
A,1,E,7   # granted: 7
B,0,L,2   # B works E, not L: 0
C,0,L,6   # granted: 6
SECTION_COVER
0,E,1,100,1   # A and B: 1 over x 1 = 1
0,L,2,50,3    # C: 1 under x 50 = 50
1,E,0,10,4    # A: 1 over x 4 = 4
1,L,1,20,2    # nobody: 1 under x 20 = 20
2,E,3,30,1    # C: 2 under x 30 = 60
2,L,0,9,9     # nobody, nobody needed: 0
"""
    )
    roster: Roster = {"A": {0: "E", 1: "E"}, "B": {0: "E"}, "C": {0: "L", 2: "E"}}
    result = evaluate(inst, roster)
    assert result.hard_violations == []
    assert result.feasible
    assert result.breakdown == {"on_requests": 7, "off_requests": 13, "under_cover": 130, "over_cover": 5}
    assert result.objective == 155


def test_unknown_staff_unknown_shift_and_days_outside_the_horizon_are_reported_and_ignored() -> None:
    inst = _one(horizon=7, cover="0,D,1,10,1\n1,D,0,10,1")
    result = evaluate(inst, {"A": {0: "X", 1: "D", 7: "D", -1: "D"}, "Z": {0: "D"}})
    assert result.hard_violations == [
        "day outside horizon: staff A has shift D on day -1; days run from 0 to 6",
        "unknown shift: staff A has shift 'X' on day 0, which is not in the instance",
        "day outside horizon: staff A has shift D on day 7; days run from 0 to 6",
        "unknown staff: the roster names staff 'Z', who is not in the instance",
    ]
    assert not result.feasible
    # only A's day-1 shift counts: day 0 is 1 under (10), day 1 is 1 over (1)
    assert result.breakdown == {"on_requests": 0, "off_requests": 0, "under_cover": 10, "over_cover": 1}


def test_staff_missing_from_the_roster_are_off_every_day() -> None:
    inst = _one(staff="A,D=99,99999,0,99,0,0,99\nB,D=99,99999,480,99,0,0,99")
    assert _violations(inst, _days(0)) == ["min total minutes: staff B works 0 minutes, at least 480 required"]


def test_fixed_days_off() -> None:
    inst = _one(days_off="A,2,4")
    assert _violations(inst, _days(0, 1, 3, 5)) == []
    assert _violations(inst, _days(2, 3)) == ["fixed day off: staff A works D on day 2, a fixed day off"]


def test_forbidden_successions() -> None:
    inst = _one(shifts="E,480,\nL,480,E", staff="A,E=99|L=99,99999,0,99,0,0,99")
    assert _violations(inst, {"A": {0: "E", 1: "L", 2: "L", 4: "E"}}) == []
    assert _violations(inst, {"A": {0: "L", 1: "E"}}) == [
        "forbidden succession: staff A works L on day 0 then E on day 1, and E cannot follow L"
    ]


def test_max_shifts_per_type() -> None:
    inst = _one(shifts="E,480,\nL,480,", staff="A,E=3|L=0,99999,0,99,0,0,99")
    assert _violations(inst, _days(0, 2, 4, shift="E")) == []
    assert _violations(inst, _days(0, 2, 4, 6, shift="E")) == [
        "max shifts: staff A works 4 E shifts, at most 3 allowed"
    ]
    assert _violations(inst, _days(1, shift="L")) == ["max shifts: staff A works 1 L shifts, at most 0 allowed"]


def test_max_total_minutes() -> None:
    inst = _one(staff="A,D=99,960,0,99,0,0,99")
    assert _violations(inst, _days(0, 2)) == []
    assert _violations(inst, _days(0, 2, 4)) == ["max total minutes: staff A works 1440 minutes, at most 960 allowed"]


def test_min_total_minutes() -> None:
    inst = _one(staff="A,D=99,99999,960,99,0,0,99")
    assert _violations(inst, _days(0, 2)) == []
    assert _violations(inst, _days(0)) == ["min total minutes: staff A works 480 minutes, at least 960 required"]


def test_max_consecutive_shifts() -> None:
    inst = _one(staff="A,D=99,99999,0,5,0,0,99")
    assert _violations(inst, _days(0, 1, 2, 3, 4, 6, 7, 8, 9, 10)) == []
    assert _violations(inst, _days(0, 1, 2, 3, 4, 5)) == [
        "max consecutive shifts: staff A works 6 days in a row (days 0 to 5), at most 5 allowed"
    ]
    # also at the end of the horizon
    assert _violations(inst, _days(8, 9, 10, 11, 12, 13)) == [
        "max consecutive shifts: staff A works 6 days in a row (days 8 to 13), at most 5 allowed"
    ]


def test_min_consecutive_shifts_except_at_either_end_of_the_horizon() -> None:
    inst = _one(staff="A,D=99,99999,0,99,2,0,99")
    assert _violations(inst, _days(3, 4)) == []
    assert _violations(inst, _days(0)) == []
    assert _violations(inst, _days(13)) == []
    assert _violations(inst, _days(0, 13)) == []
    assert _violations(inst, _days(3)) == [
        "min consecutive shifts: staff A works 1 day in a row (day 3), at least 2 required"
    ]
    inst3 = _one(staff="A,D=99,99999,0,99,3,0,99")
    assert _violations(inst3, _days(1, 2, 5, 6, 7)) == [
        "min consecutive shifts: staff A works 2 days in a row (days 1 to 2), at least 3 required"
    ]


def test_min_consecutive_days_off_except_at_either_end_of_the_horizon() -> None:
    inst = _one(staff="A,D=99,99999,0,99,0,2,99")
    everyday = set(range(14))
    assert _violations(inst, _days(*(everyday - {5, 6}))) == []
    assert _violations(inst, _days(*(everyday - {0}))) == []
    assert _violations(inst, _days(*(everyday - {13}))) == []
    assert _violations(inst, {}) == []  # one long rest touching both ends
    assert _violations(inst, _days(*(everyday - {5}))) == [
        "min consecutive days off: staff A has 1 day off in a row (day 5), at least 2 required"
    ]


def test_max_weekends_saturday_or_sunday_counts() -> None:
    inst = _one(staff="A,D=99,99999,0,99,0,0,1")
    assert _violations(inst, _days(5, 6)) == []
    assert _violations(inst, _days(4, 7, 11)) == []
    assert _violations(inst, _days(6, 12)) == [
        "max weekends: staff A works 2 weekends (days 5 to 6, days 12 to 13), at most 1 allowed"
    ]
    short = _one(horizon=13, staff="A,D=99,99999,0,99,0,0,1")
    assert _violations(short, _days(5, 12)) == [
        "max weekends: staff A works 2 weekends (days 5 to 6, day 12), at most 1 allowed"
    ]


def test_requests_are_granted_only_by_that_exact_shift() -> None:
    inst = _one(shifts="E,480,\nL,480,", staff="A,E=99|L=99,99999,0,99,0,0,99", on="A,0,E,5", off="A,1,L,7")
    assert evaluate(inst, {"A": {0: "E", 1: "E"}}).objective == 0
    assert evaluate(inst, {"A": {0: "L", 1: "L"}}).breakdown == {
        "on_requests": 5,
        "off_requests": 7,
        "under_cover": 0,
        "over_cover": 0,
    }


def test_instance1_empty_roster() -> None:
    inst = load_curtois(BENCH / "Instance1.txt")
    result = evaluate(inst, {})
    expected = sum(c.requirement * 100 for c in inst.cover) + sum(r.weight for r in inst.on_requests)
    assert result.objective == expected == 7137
    assert result.breakdown == {"on_requests": 37, "off_requests": 0, "under_cover": 7100, "over_cover": 0}
    assert result.hard_violations == [
        f"min total minutes: staff {sid} works 0 minutes, at least 3360 required" for sid in "ABCDEFGH"
    ]


# An optimal roster of Instance1 (objective 607), found by a CP-SAT model of the rules.
INSTANCE1_OPTIMAL = """\
A . D D D D . . D D D . . D D
B D D D D D . . D D . . . D D
C D D D . . D D . . D D D . .
D D D . . . D D D D D . . . .
E . D D D D . . D D . . D D D
F D D D . . . . D D . . D D D
G . . D D D . . D D . . D D .
H D D . . D D . . D D D D . .
"""


def test_instance1_optimal_roster_scores_607_with_no_violation() -> None:
    inst = load_curtois(BENCH / "Instance1.txt")
    roster = roster_from_text(INSTANCE1_OPTIMAL)
    assert roster_to_text(inst, roster) == INSTANCE1_OPTIMAL
    result = evaluate(inst, roster)
    assert result.hard_violations == []
    assert result.objective == 607
    assert result.breakdown == {"on_requests": 4, "off_requests": 3, "under_cover": 600, "over_cover": 0}
    # one more shift for F on its fixed day off (day 5) breaks rules and the score moves
    roster["F"][5] = "D"
    worse = evaluate(inst, roster)
    assert "fixed day off: staff F works D on day 5, a fixed day off" in worse.hard_violations
