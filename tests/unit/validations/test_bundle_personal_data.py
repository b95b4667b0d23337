"""Names are one line of text; errors never carry a name or an email, in whatever column it was typed;
a quarantine errors.csv cannot smuggle a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from rotaflow.errors import PERSONAL_DATA_HIDDEN, InputError, Problem
from rotaflow.services.ingest import ingest_bundle, quarantine_bundle
from rotaflow.storage import LocalStore
from rotaflow.validations.bundle import parse_bundle, personal_values

ONE_LINE = "text on one line, without control characters"
NOT_SHOWN = "a line break or other control character (the value is not shown)"


def _replace(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    text = files[name].decode()
    assert old in text, f"{old!r} not in {name}"
    return {**files, name: text.replace(old, new, 1).encode()}


def _error(files: dict[str, bytes]) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_bundle(files)
    assert caught.value.exit_code == 2
    return caught.value


# --------------------------------------------------------------------------- one line of text


CONTROLS = ["\n", "\r", "\r\n", "\t", "\x01", "\x1b", "\x1f", "\x7f", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", CONTROLS, ids=[repr(c) for c in CONTROLS])
def test_a_name_with_a_control_character_is_refused_without_showing_it(tiny_files: dict[str, bytes], char: str) -> None:
    files = _replace(tiny_files, "people.csv", "R2,Resident Two,", f'R2,"Resident{char}Two",')
    error = _error(files)
    assert [str(p) for p in error.problems] == [f"people.csv, row 2, column name: expected {ONE_LINE}, got {NOT_SHOWN}"]
    assert "Resident" not in str(error)


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        ("shifts.csv", "DAY,Day ward,", 'DAY,"Day\nward",', "shifts.csv, row 1, column name"),
        ("rotations.csv", "NF,Night float,", 'NF,"Night\u2028float",', "rotations.csv, row 2, column name"),
        ("absences.csv", "R1,2027-07-10", '"R1\r",2027-07-10', None),  # stripped: a trailing break is no break
        ("requests.csv", "R1,2027-07-05,DAY", '"R\t1",2027-07-05,DAY', "requests.csv, row 1, column person_id"),
    ],
    ids=["shift-name", "rotation-name", "trailing-break", "tab-in-id"],
)
def test_every_text_column_is_one_line(
    tiny_files: dict[str, bytes], file: str, old: str, new: str, where: str | None
) -> None:
    files = _replace(tiny_files, file, old, new)
    if where is None:
        parse_bundle(files)
        return
    assert [str(p) for p in _error(files).problems] == [f"{where}: expected {ONE_LINE}, got {NOT_SHOWN}"]


def test_reports_break_lines_exactly_where_the_contract_refuses_text() -> None:
    """The report writer's one-line text and the contract's one-line check use one character class."""
    import re

    from rotaflow.services.calendars import one_line as _one_line
    from rotaflow.validations.contracts import LINE_BREAKING, ONE_LINE_PATTERN

    breaking = re.compile(f"[{LINE_BREAKING}]")
    for char in map(chr, [*range(0x2100), 0x2028, 0x2029, 0xFEFF]):
        refused = re.match(ONE_LINE_PATTERN, f"a{char}b") is None
        assert refused is (breaking.match(char) is not None), repr(char)
        flattened = _one_line(f"a{char}b")
        assert (flattened == "a b") if refused or char.isspace() else (flattened == f"a{char}b"), repr(char)


def test_the_program_name_is_one_line(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "program.yaml", "name: Tiny Internal", 'name: "Tiny\\nInternal')
    files = _replace(files, "program.yaml", "Residency\n", 'Residency"\n')
    assert [str(p) for p in _error(files).problems] == [
        f"program.yaml, column name: expected {ONE_LINE}, got {NOT_SHOWN}"
    ]


# --------------------------------------------------------------------------- names typed in other columns


def test_personal_values_are_every_name_and_email_of_people_csv(tiny_files: dict[str, bytes]) -> None:
    found = personal_values(tiny_files)
    assert {"resident one", "faculty one", "r1@example.org", "f1@example.org"} <= found
    assert "r1" not in found and "" not in found


@pytest.mark.parametrize(
    ("file", "old", "new", "where"),
    [
        (
            "people.csv",
            "R2,Resident Two,r2@example.org,resident",
            "R2,Resident Two,,Resident One",
            "row 2, column role",
        ),
        (
            "people.csv",
            "R3,Resident Three,,resident,3",
            "R3,Resident Three,,resident,FACULTY ONE ",
            "row 3, column pgy",
        ),
        (
            "people.csv",
            "F1,Faculty One,f1@example.org,faculty,,0.8",
            "F1,Faculty One,,faculty,,Resident Two",
            "row 4, column fte",
        ),
        ("absences.csv", "R1,2027-07-10", "Resident Three,2027-07-10", "row 1, column person_id"),
    ],
    ids=["role", "pgy-case-and-space", "fte", "person_id"],
)
def test_a_name_typed_in_another_column_is_hidden(
    tiny_files: dict[str, bytes], file: str, old: str, new: str, where: str
) -> None:
    error = _error(_replace(tiny_files, file, old, new))
    shown = [str(p) for p in error.problems if p.file == file]
    assert any(line.startswith(f"{file}, {where}:") and line.endswith(PERSONAL_DATA_HIDDEN) for line in shown), shown
    rendered = str(error) + json.dumps([p.as_dict() for p in error.problems])
    assert "Resident" not in rendered and "Faculty One" not in rendered.title()


def test_a_name_typed_with_a_title_in_another_column_is_hidden(tiny_files: dict[str, bytes]) -> None:
    files = _replace(
        tiny_files, "people.csv", "R2,Resident Two,r2@example.org,resident", "R2,Resident Two,,Dr. Resident Two"
    )
    error = _error(files)
    assert [str(p) for p in error.problems] == [
        f"people.csv, row 2, column role: expected resident or faculty, got {PERSONAL_DATA_HIDDEN}"
    ]


def test_a_one_word_name_used_as_an_id_is_hidden(tiny_files: dict[str, bytes]) -> None:
    files = _replace(tiny_files, "people.csv", "R3,Resident Three,", "R3,Okonkwo,")
    files = _replace(files, "requests.csv", "R1,2027-07-05,DAY", "okonkwo,2027-07-05,DAY")
    error = _error(files)
    assert [str(p) for p in error.problems] == [
        f"requests.csv, row 1, column person_id: expected an id listed in people.csv, got {PERSONAL_DATA_HIDDEN}"
    ]


def test_a_long_name_cut_short_in_a_message_is_still_hidden(tiny_files: dict[str, bytes]) -> None:
    long_name = "Maria " + "de la Cruz " * 8 + "Fernandez"
    files = _replace(tiny_files, "people.csv", "R3,Resident Three,,resident", f"R3,{long_name},,resident")
    files = _replace(files, "people.csv", "R2,Resident Two,r2@example.org,resident", f"R2,Resident Two,,{long_name}")
    error = _error(files)
    assert "Maria" not in str(error)
    assert any(p.got == PERSONAL_DATA_HIDDEN and p.column == "role" for p in error.problems)


def test_ordinary_values_are_still_shown(tiny_files: dict[str, bytes]) -> None:
    error = _error(_replace(tiny_files, "people.csv", "resident,2", "doctor,2"))
    assert [p.got for p in error.problems] == ["'doctor'"]


def test_a_name_in_a_quarantine_report_and_the_flow_table_is_hidden(tiny_dir: Path, tmp_path: Path) -> None:
    people = tiny_dir / "people.csv"
    people.write_text(
        people.read_text().replace("R2,Resident Two,r2@example.org,resident", "R2,Resident Two,,Resident One")
    )
    store = LocalStore(tmp_path / "objects")
    with pytest.raises(InputError):
        ingest_bundle(str(tiny_dir), store=store, expectations=False)
    reports = [k for k in store.list("quarantine") if k.endswith(("errors.csv", "errors.json"))]
    assert len(reports) == 2
    for key in reports:
        text = store.get_bytes(key).decode()
        assert "people.csv" in text and PERSONAL_DATA_HIDDEN in text
        assert "Resident One" not in text


# --------------------------------------------------------------------------- errors.csv and formulas


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"], ids=["equals", "plus", "minus", "at", "tab", "cr"])
def test_every_errors_csv_cell_that_could_be_a_formula_is_neutralised(tmp_path: Path, lead: str) -> None:
    formula = f'{lead}HYPERLINK("http://evil","x")'
    error = InputError(
        [Problem(f"{lead}people.csv", 2, f"{lead}column", f"{lead}expected", formula)], source=str(tmp_path)
    )
    store = LocalStore(tmp_path / "objects")
    prefix = quarantine_bundle(str(tmp_path), error, files={}, store=store)
    rows = list(csv.reader(io.StringIO(store.get_bytes(f"{prefix}/errors.csv").decode(), newline="")))
    assert rows[0] == ["file", "row", "column", "expected", "got"]
    assert rows[1] == [f"'{lead}people.csv", "2", f"'{lead}column", f"'{lead}expected", f"'{formula}"]
    # errors.json keeps the values as they are: JSON is not opened by a spreadsheet
    report = json.loads(store.get_bytes(f"{prefix}/errors.json"))
    assert report["problems"][0]["file"] == f"{lead}people.csv"


def test_a_misspelt_file_name_that_is_a_formula_reaches_errors_csv_neutralised(tiny_dir: Path, tmp_path: Path) -> None:
    (tiny_dir / "history.csv").unlink()
    (tiny_dir / "=history.csv").write_bytes(b"x\n")
    store = LocalStore(tmp_path / "objects")
    with pytest.raises(InputError):
        ingest_bundle(str(tiny_dir), store=store, expectations=False)
    key = next(k for k in store.list("quarantine") if k.endswith("errors.csv"))
    cells = [cell for row in csv.reader(io.StringIO(store.get_bytes(key).decode(), newline="")) for cell in row]
    assert "'=history.csv" in cells
    assert not any(cell[:1] in {"=", "+", "-", "@", "\t", "\r"} for cell in cells)


def test_personal_values_of_a_people_file_that_cannot_be_read_are_none() -> None:
    assert personal_values({}) == frozenset()
    assert personal_values({"people.csv": b""}) == frozenset()
    assert personal_values({"people.csv": b'person_id,name\nR1,"' + b"x" * 200_000 + b'"\n'}) == frozenset()


@pytest.mark.parametrize(
    ("got", "hidden"),
    [
        ("'Jane Doe'", True),
        ('"jane doe "', True),
        ("JANE DOE", True),
        ("'Jane Doe", True),  # not a quoted value, but the name is in it as whole words
        ("'Dr. Jane Doe'", True),  # a name typed with a title, or into a note
        ("'swap with JANE.DOE@example.org please'", True),
        ("'Janet Doerr'", False),  # only whole words: not a longer word that starts like the name
        ("'Annual leave'", False),  # a short name only when it is the whole value
        ("'ann'", True),
        ("'Day ward'", False),  # a one-word name only when it is the whole value
        ("' Ward'", True),
        ("'Please swap my night with Dr Maria de la Cruz Fernand...'", True),  # cut short inside the name
        ("'Please swap my night shift with somebody on the Ward...'", False),
        ("'Please swap my night shift with somebody on the Jane D...'", True),
        ("'Please swap my night shift with somebody else from B...'", False),
        ("'a'b'", False),  # looks quoted, is not one value
        ("'Jane'", False),
        ("'Maria de la Cruz Fernandez de la ...'", True),
        ("'Maria de la Cruz Fernandez de la Vega'", False),
        ("'Mar...'", False),  # too short a head to tell
    ],
)
def test_hide_personal_matches_values_as_problems_show_them(got: str, hidden: bool) -> None:
    from rotaflow.errors import hide_personal

    people = ["Jane Doe", " Maria de la Cruz Fernandez de la Rosa ", "jane.doe@example.org", "Ann", "Ward"]
    [problem] = hide_personal([Problem("people.csv", 1, "role", "resident or faculty", got)], people)
    assert (problem.got == PERSONAL_DATA_HIDDEN) is hidden


def test_hide_personal_without_names_or_values_changes_nothing() -> None:
    from rotaflow.errors import hide_personal

    problems = [Problem("people.csv", None, None, "the file to be present", None)]
    assert hide_personal(problems, ["", "  "]) == problems
    assert hide_personal(problems, ["Jane Doe"]) == problems
