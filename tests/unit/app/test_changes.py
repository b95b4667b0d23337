"""changes.csv and changes.html between two versions of a block's schedule (docs/formats.md, “changes.csv”)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
from pathlib import Path

import pytest

from rotaflow.services.changes import Row, change_rows, changes_csv, changes_html, write_changes
from rotaflow.services.results import BrokenOutput, check_csv
from rotaflow.validations.contracts import CHANGE_COLUMNS, OUTPUTS

D1, D2, D3 = dt.date(2027, 7, 1), dt.date(2027, 7, 2), dt.date(2027, 7, 3)
OLD: list[Row] = [("R1", D1, "DAY"), ("R2", D1, "NIGHT"), ("R2", D3, "DAY"), ("R3", D2, "DAY")]
# R2's night of D1 moves to R1; R3's D2 day is dropped; R3 gains D3; R2's D3 day is kept
NEW: list[Row] = [("R1", D1, "DAY"), ("R1", D1, "NIGHT"), ("R2", D3, "DAY"), ("R3", D3, "NIGHT")]


def test_rows_name_each_assignment_gained_or_lost_in_order() -> None:
    rows = change_rows(OLD, NEW, from_version=2, to_version=3, reason="repair", reference="absence:R2:2027-07-01")
    assert [(r["change"], r["person_id"], r["date"], r["shift_id"]) for r in rows] == [
        ("added", "R1", "2027-07-01", "NIGHT"),
        ("removed", "R2", "2027-07-01", "NIGHT"),
        ("removed", "R3", "2027-07-02", "DAY"),
        ("added", "R3", "2027-07-03", "NIGHT"),
    ]
    assert {(r["from_version"], r["to_version"], r["reason"], r["reference"]) for r in rows} == {
        (2, 3, "repair", "absence:R2:2027-07-01")
    }
    assert list(rows[0]) == CHANGE_COLUMNS


def test_rows_sort_by_date_and_shift_within_a_person_whatever_the_change() -> None:
    rows = change_rows(
        [("R1", D1, "B")], [("R1", D2, "A"), ("R1", D1, "A")], from_version=1, to_version=2, reason="manual"
    )
    assert [(r["change"], r["date"], r["shift_id"]) for r in rows] == [
        ("added", "2027-07-01", "A"),
        ("removed", "2027-07-01", "B"),
        ("added", "2027-07-02", "A"),
    ]


def test_identical_versions_have_no_changes() -> None:
    assert change_rows(OLD, reversed(OLD), from_version=1, to_version=2, reason="generate") == []
    assert changes_csv([]) == ",".join(CHANGE_COLUMNS) + "\n"


def test_the_csv_holds_to_its_contract_and_a_preview_has_no_to_version() -> None:
    assert OUTPUTS["changes"].file == "changes.csv"
    rows = change_rows(OLD, NEW, from_version=2, to_version=None, reason="swap", reference="swap-17")
    text = changes_csv(rows)
    read = list(csv.DictReader(io.StringIO(text)))
    assert list(read[0]) == CHANGE_COLUMNS
    assert len(read) == 4
    assert {r["to_version"] for r in read} == {""}
    assert read[1] == {
        "change": "removed",
        "person_id": "R2",
        "date": "2027-07-01",
        "shift_id": "NIGHT",
        "from_version": "2",
        "to_version": "",
        "reason": "swap",
        "reference": "swap-17",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reason", "whim", "reason"),
        ("change", "moved", "change"),
        ("shift_id", "no spaces allowed", "shift_id"),
        ("to_version", 1, "a version after from_version"),
    ],
)
def test_a_broken_row_is_refused_at_the_writer(field: str, value: object, message: str) -> None:
    rows = change_rows(OLD, NEW, from_version=2, to_version=3, reason="repair")
    rows[0][field] = value
    with pytest.raises(BrokenOutput, match=message):
        changes_csv(rows)


def test_check_csv_reads_changes_with_its_columns() -> None:
    with pytest.raises(BrokenOutput, match="expected the columns change, person_id"):
        check_csv("changes", ",".join(reversed(CHANGE_COLUMNS)) + "\n")


def _page(rows: list[dict[str, object]], **facts: object) -> str:
    given: dict[str, object] = {
        "program": "tiny",
        "block_id": "B1",
        "from_version": 2,
        "to_version": 3,
        "reason": "repair",
    }
    given.update(facts)
    return changes_html(rows, **given)  # type: ignore[arg-type]


def test_the_page_lists_each_persons_lost_and_gained_shifts_with_counts() -> None:
    rows = change_rows(OLD, NEW, from_version=2, to_version=3, reason="repair")
    page = _page(rows, shift_labels={"NIGHT": "Night float"})
    assert "Changes to block B1: version 2 → version 3" in page
    assert "reason: repair" in page
    counts = {
        label: page.split(f'<div class="card-label">{label}')[0].rsplit('<div class="card-value">', 1)[1]
        for label in ("people affected", "shifts added", "shifts removed")
    }
    assert counts == {"people affected": "3</div>", "shifts added": "2</div>", "shifts removed": "2</div>"}
    # people in order, each with their own table
    assert page.index("<h2>R1</h2>") < page.index("<h2>R2</h2>") < page.index("<h2>R3</h2>")
    r3 = page.split("<h2>R3</h2>")[1]
    assert '<span class="dow">Fri</span> 2027-07-02</th><td class="lost">DAY</td><td class=""></td>' in r3
    assert '<span class="dow">Sat</span> 2027-07-03</th><td class=""></td><td class="gained">Night float (NIGHT)' in r3
    r2 = page.split("<h2>R2</h2>")[1].split("<h2>")[0]
    assert "2027-07-03" not in r2  # the kept shift is no change
    assert "No changes" not in page


def test_the_page_of_no_changes_says_so_and_a_preview_is_named() -> None:
    page = _page([], to_version=None)
    assert "No changes" in page
    assert "version 2 → an unpublished preview" in page
    assert "<h2>" not in page


def test_the_page_escapes_hostile_text_and_loads_nothing() -> None:
    hostile = '<script>alert("x")</script>'
    rows = [
        {
            "change": "added",
            "person_id": "R1<b>",
            "date": "2027-07-01",
            "shift_id": hostile,
            "from_version": 1,
            "to_version": 2,
            "reason": "swap",
            "reference": hostile,
        },
    ]
    page = _page(rows, reference=hostile, block_id="<i>B1</i>", shift_labels={hostile: "<img src=x>"})
    assert "<script" not in page.lower()
    assert "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "src=" not in page.replace("src=x&gt;", "")  # no external asset
    assert "http" not in page


def test_write_changes_writes_both_files_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        rows = change_rows(OLD, NEW, from_version=2, to_version=3, reason="repair")
        paths = write_changes(
            tmp_path / "out", rows, program="tiny", block_id="B1", from_version=2, to_version=3, reason="repair"
        )
    finally:
        os.umask(previous)
    assert [p.name for p in paths] == ["changes.csv", "changes.html"]
    assert paths[0].read_text(encoding="utf-8") == changes_csv(rows)
    assert "<h2>R3</h2>" in paths[1].read_text(encoding="utf-8")
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths} == {0o600}
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700


def test_write_changes_writes_nothing_when_a_row_breaks_the_contract(tmp_path: Path) -> None:
    rows = change_rows(OLD, NEW, from_version=2, to_version=3, reason="bogus")
    with pytest.raises(BrokenOutput):
        write_changes(tmp_path / "out", rows, program="p", block_id="B1", from_version=2, to_version=3, reason="x")
    assert not (tmp_path / "out").exists()
