"""Size limits of a schedule file, and rotaflow's own outputs read back under them (not a bundle file's).

A schedule given to ``rotaflow validate`` (or to the validation and contingency flows) is read
through a stream capped at ``schedule_bytes`` and held to ``schedule_rows``: past either it is
refused with exit 2, naming the file and the limit, and nothing is written. The caps fit a year of
a large program, which is well past a bundle file's 100,000 rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rotaflow.cli import main
from rotaflow.errors import InputError
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.limits import LIMITS, BundleLimits
from rotaflow.validations.schedule import load_schedule, read_schedule_file

FINDING = "acgme_weekly_hours,violation,R1,2027-07-01,2027-07-28,83.5,80,hours_per_week,Over the weekly limit.\n"
ASSIGNMENT = "R1,2027-07-01,DAY,2027-07-01T07:00:00-04:00,2027-07-01T19:00:00-04:00,12.0,WARDS,solver\n"


@pytest.fixture
def tiny(tiny_files: dict[str, bytes]) -> Bundle:
    return parse_bundle(tiny_files)


def _oversized(path: Path) -> Path:
    """A file one byte past the schedule cap, sparse: it costs no disk, only the bytes read."""
    with path.open("wb") as handle:
        handle.truncate(LIMITS.schedule_bytes + 1)
    return path


def _refusal(caught: pytest.ExceptionInfo[InputError]) -> list[str]:
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


def test_the_limits_fit_a_year_of_a_large_program() -> None:
    year = 300 * 365 + 60 * 365  # residents and faculty, a row a day each
    assert LIMITS.schedule_rows >= year > LIMITS.csv_rows
    assert LIMITS.schedule_bytes >= LIMITS.schedule_rows * len(ASSIGNMENT.encode())


def test_a_schedule_within_the_byte_cap_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_bytes(b"person_id,date,shift_id\n" + b"R1,2027-07-01,DAY\n" * 10)
    assert read_schedule_file(path, limits=BundleLimits(schedule_bytes=24 + 180)) == path.read_bytes()


def test_a_schedule_past_the_byte_cap_is_refused_naming_file_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_bytes(b"person_id,date,shift_id\n" + b"R1,2027-07-01,DAY\n" * 10)
    with pytest.raises(InputError) as caught:
        read_schedule_file(path, limits=BundleLimits(schedule_bytes=24 + 179))
    assert _refusal(caught) == ["mine.csv: expected at most 203 bytes, got more than 203"]


def test_a_missing_schedule_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_schedule_file(tmp_path / "gone.csv")
    assert _refusal(caught) == ["gone.csv: expected a readable CSV file, got no such file"]


def test_a_schedule_past_the_row_limit_is_refused(tiny: Bundle) -> None:
    text = b"person_id,date,shift_id\n" + b"".join(b"R1,2027-07-0%d,DAY\n\n" % day for day in (1, 2, 3, 4))
    assert len(load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=4))) == 4
    with pytest.raises(InputError) as caught:
        load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=3))
    assert _refusal(caught) == ["mine.csv: expected at most 3 data rows in a schedule, got more than 3"]


def test_the_cli_refuses_a_schedule_past_the_byte_cap_and_writes_nothing(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = _oversized(tmp_path / "huge.csv")
    out = tmp_path / "out"
    code = main(["validate", "-p", str(tiny_dir), "-s", str(schedule), "--out", str(out), "--no-flow"])
    assert code == 2
    limit = LIMITS.schedule_bytes
    assert f"huge.csv: expected at most {limit} bytes, got more than {limit}" in capsys.readouterr().err
    assert not out.exists()


def test_the_cli_refuses_a_schedule_past_the_row_limit_and_writes_nothing(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = tmp_path / "long.csv"
    rows = LIMITS.schedule_rows + 1
    schedule.write_bytes(b"person_id,date,shift_id\n" + b"R1,2027-07-01,DAY\n" * rows)
    out = tmp_path / "out"
    code = main(["validate", "-p", str(tiny_dir), "-s", str(schedule), "--out", str(out), "--no-flow"])
    assert code == 2
    expected = f"long.csv: expected at most {LIMITS.schedule_rows} data rows in a schedule, got more than {LIMITS.schedule_rows}"
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_the_validation_flow_reads_the_schedule_under_the_cap(tiny: Bundle, tmp_path: Path) -> None:
    from rotaflow.tasks.validate import read_schedule

    with pytest.raises(InputError) as caught:
        read_schedule.fn(tiny, str(_oversized(tmp_path / "huge.csv")))
    assert _refusal(caught) == [
        f"huge.csv: expected at most {LIMITS.schedule_bytes} bytes, got more than {LIMITS.schedule_bytes}"
    ]


def test_the_contingency_flow_reads_the_schedule_under_the_cap(tiny: Bundle, tmp_path: Path) -> None:
    from rotaflow.tasks.contingency import published_schedule

    with pytest.raises(InputError) as caught:
        published_schedule.fn(tiny, "B1", str(_oversized(tmp_path / "huge.csv")))
    assert _refusal(caught) == [
        f"huge.csv: expected at most {LIMITS.schedule_bytes} bytes, got more than {LIMITS.schedule_bytes}"
    ]


def test_rotaflow_reads_its_own_outputs_past_a_bundle_files_row_limit() -> None:
    from rotaflow.services.validate import read_outputs

    rows = LIMITS.csv_rows + 1
    header = "person_id,date,shift_id,start,end,hours,rotation_id,source\n"
    frames = read_outputs(
        {
            "findings": (
                "rule,severity,person_id,window_start,window_end,value,limit,unit,message\n" + FINDING * rows
            ).encode(),
            "assignments": (header + ASSIGNMENT * rows).encode(),
        }
    )
    assert len(frames["findings"]) == rows and len(frames["assignments"]) == rows


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_rows_are_counted_whatever_ends_their_lines(tiny: Bundle, end: bytes) -> None:
    text = (
        b"person_id,date,shift_id" + end + b"".join(b"R1,2027-07-0%d,DAY" % day + end for day in (1, 2, 3))
    ).rstrip()
    assert len(load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=3))) == 3
    with pytest.raises(InputError) as caught:
        load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=2))
    assert _refusal(caught) == ["mine.csv: expected at most 2 data rows in a schedule, got more than 2"]


def test_rows_are_counted_before_the_schedule_is_parsed(tiny: Bundle) -> None:
    """A file of many short rows within the byte cap is refused on its row count before it becomes a frame."""
    import tracemalloc

    text = b"person_id,date,shift_id\n" + b"R1,2027-07-01,DAY\n" * 200_000  # 3.6 MB, 200,000 rows
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as caught:
            load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=1_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _refusal(caught) == ["mine.csv: expected at most 1000 data rows in a schedule, got more than 1000"]
    assert peak < 3 * len(text), peak  # the text and its decoded copy, not 200,000 rows of cells


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (b"person_id,date,shift_id\xff\n" + b"R1,2027-07-01,DAY\n" * 5, "expected UTF-8 text"),
        (
            b'person_id,date,shift_id\n"' + b"x" * 200_000 + b'",a,b\n' + b"R1,2027-07-01,DAY\n" * 5,
            "expected well-formed CSV",
        ),
    ],
)
def test_text_the_row_count_cannot_read_is_left_for_the_reader_to_name(tiny: Bundle, text: bytes, named: str) -> None:
    with pytest.raises(InputError) as caught:
        load_schedule(tiny, text, file="mine.csv", limits=BundleLimits(schedule_rows=2))
    assert _refusal(caught)[0].startswith(f"mine.csv: {named}")
