"""``rotaflow absence add`` and ``rotaflow.services.absences.add_absence``: a checked, atomic append to a
bundle folder's absences.csv that never leaves the bundle broken."""

from __future__ import annotations

import datetime as dt
import os
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from rotaflow.cli import main
from rotaflow.errors import InputError
from rotaflow.services.absences import add_absence
from tests.schedules import load

TINY_ABSENCES = (
    b"person_id,start_date,end_date,type,blocking\n"
    b"R1,2027-07-10,2027-07-11,conference,false\n"
    b"F1,2027-08-01,2027-08-03,vacation,true\n"
)


def _add(
    bundle: Path | str, *extra: str, person: str = "R2", start: str = "2027-07-15", end: str = "2027-07-16"
) -> int:
    args = ["absence", "add", "--program", str(bundle), "--person", person, "--from", start, "--to", end]
    return main(args + (list(extra) or ["--type", "sick"]))


def _absences(bundle: Path) -> list[tuple[str, dt.date, dt.date, str, bool]]:
    frame = load(bundle).frames["absences"]
    return [
        (str(r.person_id), r.start_date.date(), r.end_date.date(), str(r.type), r.blocking is pd.NA or bool(r.blocking))
        for r in frame.itertuples(index=False)
    ]


def test_an_absence_is_appended_and_the_bundle_still_loads(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny_dir / "absences.csv"
    assert path.read_bytes() == TINY_ABSENCES
    assert _add(tiny_dir) == 0
    assert path.read_bytes() == TINY_ABSENCES + b"R2,2027-07-15,2027-07-16,sick,true\n"
    assert ("R2", dt.date(2027, 7, 15), dt.date(2027, 7, 16), "sick", True) in _absences(tiny_dir)
    printed = capsys.readouterr().out
    assert "R2 2027-07-15 – 2027-07-16 (sick) added" in printed
    assert "Resident" not in printed and "@" not in printed  # ids only, never names or emails
    assert sorted(p.name for p in tiny_dir.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_a_not_blocking_absence_says_so(tiny_dir: Path) -> None:
    assert _add(tiny_dir, "--type", "conference", "--not-blocking", person="R3") == 0
    assert (tiny_dir / "absences.csv").read_bytes().endswith(b"\nR3,2027-07-15,2027-07-16,conference,false\n")
    assert ("R3", dt.date(2027, 7, 15), dt.date(2027, 7, 16), "conference", False) in _absences(tiny_dir)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"person": "R9"}, "absences.csv, column person_id: expected a person_id of people.csv, got R9"),
        ({"start": "2027-07-16", "end": "2027-07-15"}, "column end_date: expected a date on or after start_date"),
        ({"type": "holiday"}, "absences.csv, column type: expected one of vacation, sick"),
        ({"start": "2027-13-01"}, "command line, column --from: expected a date (YYYY-MM-DD), got 2027-13-01"),
        (  # outside every block: written (row 3), refused when the bundle is read back, the old file put back
            {"start": "2030-01-01", "end": "2030-01-02"},
            "absences.csv, row 3, column start_date: expected dates that fall in at least one block",
        ),
    ],
)
def test_a_refused_absence_leaves_the_file_byte_identical(
    overrides: dict[str, str], expected: str, tiny_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_dir / "absences.csv"
    os.chmod(path, 0o640)
    kind = overrides.pop("type", "sick")
    assert _add(tiny_dir, "--type", kind, **overrides) == 2
    assert path.read_bytes() == TINY_ABSENCES
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert expected in capsys.readouterr().err
    assert sorted(p.name for p in tiny_dir.iterdir()) == sorted(
        ["absences.csv", "blocks.csv", "coverage.csv", "history.csv", "people.csv", "program.yaml"]
        + ["requests.csv", "rotation_assignments.csv", "rotations.csv", "shifts.csv"]
    )


def test_a_name_typed_as_person_id_is_not_shown(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(tiny_dir, person="Resident One") == 2
    err = capsys.readouterr().err
    assert "column person_id" in err and "Resident One" not in err


def test_the_same_absence_twice_is_one_row(tiny_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(tiny_dir) == 0
    once = (tiny_dir / "absences.csv").read_bytes()
    assert _add(tiny_dir) == 0
    assert (tiny_dir / "absences.csv").read_bytes() == once
    assert "already recorded" in capsys.readouterr().out
    assert [a for a in _absences(tiny_dir) if a[0] == "R2"] == [
        ("R2", dt.date(2027, 7, 15), dt.date(2027, 7, 16), "sick", True)
    ]
    # the same absence with the other blocking flag: refused, not a second row the contract forbids
    assert _add(tiny_dir, "--type", "sick", "--not-blocking") == 2
    assert (tiny_dir / "absences.csv").read_bytes() == once
    assert "recorded as blocking" in capsys.readouterr().err


def test_the_file_keeps_its_line_endings_byte_order_mark_and_mode(tiny_dir: Path) -> None:
    path = tiny_dir / "absences.csv"
    original = b"\xef\xbb\xbf" + TINY_ABSENCES.replace(b"\n", b"\r\n").rstrip(b"\r\n")  # no final line ending
    path.write_bytes(original)
    os.chmod(path, 0o664)
    written = add_absence(
        str(tiny_dir), person_id="R1", start=dt.date(2027, 7, 20), end=dt.date(2027, 7, 20), type="sick"
    )
    assert written == path
    assert path.read_bytes() == original + b"\r\nR1,2027-07-20,2027-07-20,sick,true\r\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


def test_the_file_keeps_its_own_columns(tiny_dir: Path) -> None:
    path = tiny_dir / "absences.csv"
    path.write_bytes(b"type,person_id,start_date,end_date,comment\nvacation,R1,2027-07-02,2027-07-03,\n")
    add_absence(str(tiny_dir), person_id="R2", start=dt.date(2027, 7, 4), end=dt.date(2027, 7, 5), type="medical")
    assert path.read_bytes().endswith(b"\nmedical,R2,2027-07-04,2027-07-05,\n")
    assert ("R2", dt.date(2027, 7, 4), dt.date(2027, 7, 5), "medical", True) in _absences(tiny_dir)
    # without a blocking column, an absence that is not blocking cannot be written as one
    with pytest.raises(InputError, match="with a blocking column"):
        add_absence(
            str(tiny_dir),
            person_id="R3",
            start=dt.date(2027, 7, 4),
            end=dt.date(2027, 7, 5),
            type="sick",
            blocking=False,
        )


def test_a_linked_absences_file_stays_a_link(tiny_dir: Path) -> None:
    shared = tiny_dir / "shared"
    shared.mkdir()
    (tiny_dir / "absences.csv").rename(shared / "absences.csv")
    (tiny_dir / "absences.csv").symlink_to(Path("shared") / "absences.csv")
    add_absence(str(tiny_dir), person_id="R2", start=dt.date(2027, 7, 4), end=dt.date(2027, 7, 5), type="sick")
    assert (tiny_dir / "absences.csv").is_symlink()
    assert (shared / "absences.csv").read_bytes() == TINY_ABSENCES + b"R2,2027-07-04,2027-07-05,sick,true\n"


def test_a_bundle_without_absences_gets_the_file(tiny_dir: Path) -> None:
    (tiny_dir / "absences.csv").unlink()
    os.chmod(tiny_dir / "people.csv", 0o640)
    path = add_absence(
        str(tiny_dir), person_id="F1", start=dt.date(2027, 7, 6), end=dt.date(2027, 7, 6), type="other", blocking=False
    )
    assert path.read_bytes() == b"person_id,start_date,end_date,type,blocking\nF1,2027-07-06,2027-07-06,other,false\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert _absences(tiny_dir) == [("F1", dt.date(2027, 7, 6), dt.date(2027, 7, 6), "other", False)]


def test_a_new_file_that_breaks_the_bundle_is_removed(tiny_dir: Path) -> None:
    (tiny_dir / "absences.csv").unlink()
    with pytest.raises(InputError, match="absences.csv"):
        add_absence(str(tiny_dir), person_id="F1", start=dt.date(2031, 1, 1), end=dt.date(2031, 1, 2), type="sick")
    assert not (tiny_dir / "absences.csv").exists()


def test_only_a_bundle_folder_takes_an_absence(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "tiny.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for item in sorted(tiny_dir.iterdir()):
            handle.write(item, item.name)
    before = archive.read_bytes()
    assert _add(archive) == 2
    assert "expected a bundle folder" in capsys.readouterr().err
    assert archive.read_bytes() == before

    assert _add("s3://bucket/tiny") == 2
    assert "an s3:// prefix" in capsys.readouterr().err
    with pytest.raises(InputError, match="a bundle folder") as info:
        add_absence("s3://bucket/tiny", person_id="R1", start=dt.date(2027, 7, 2), end=dt.date(2027, 7, 2), type="sick")
    assert "an s3:// prefix" in str(info.value)

    assert (
        main(
            ["absence", "add", "-p", "s3://key:secret@bucket/tiny", "--person", "R1"]
            + ["--from", "2027-07-02", "--to", "2027-07-02", "--type", "sick"]
        )
        == 2
    )
    assert "secret" not in capsys.readouterr().err
