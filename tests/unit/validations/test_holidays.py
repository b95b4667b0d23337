"""program.yaml's optional ``holidays``: public holidays the fairness rule and `report year` count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rotaflow.errors import InputError
from rotaflow.validations.bundle import parse_program
from rotaflow.validations.instances import block_instance
from tests.schedules import load

PROGRAM = "name: Tiny Internal Medicine Residency\ntimezone: America/New_York\n"


def _with(tiny_dir: Path, extra: str) -> Path:
    (tiny_dir / "program.yaml").write_text(PROGRAM + extra, encoding="utf-8")
    return tiny_dir


def test_holidays_are_dates_and_the_block_knows_its_own(tiny_dir: Path) -> None:
    bundle = load(_with(tiny_dir, "holidays: [2027-07-05, '2027-12-25', 2027-08-02]\n"))
    assert bundle.program.holidays == [dt.date(2027, 7, 5), dt.date(2027, 12, 25), dt.date(2027, 8, 2)]
    assert block_instance(bundle, "B1").holidays == frozenset({4})  # B1 starts on 1 July
    assert block_instance(bundle, "B2").holidays == frozenset({4})  # B2 starts on 29 July


def test_a_program_without_holidays_keeps_its_content_hash(tiny_dir: Path) -> None:
    without = load(_with(tiny_dir, "")).content_hash
    assert load(_with(tiny_dir, "holidays: []\n")).content_hash == without
    assert load(_with(tiny_dir, "holidays: [2027-07-05]\n")).content_hash != without


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("holidays: ['2027-13-01']\n", "holidays.0"),
        ("holidays: [2027-07-05, Christmas]\n", "holidays.1"),
        ("holidays: 2027-07-05\n", "holidays"),
    ],
)
def test_a_bad_holiday_is_refused_where_it_is(text: str, column: str) -> None:
    config, problems = parse_program((PROGRAM + text).encode())
    assert config is None
    assert [(p.file, p.column) for p in problems] == [("program.yaml", column)]


def test_a_bad_holiday_refuses_the_bundle(tiny_dir: Path) -> None:
    with pytest.raises(InputError, match="program.yaml, column holidays.0"):
        load(_with(tiny_dir, "holidays: [July 4th]\n"))
