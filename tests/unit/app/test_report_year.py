"""``rotaflow report year``: a resident's year so far, counted by hand on the tiny bundle with B1 published."""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from rotaflow.cli import main
from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Cell
from rotaflow.constraints.solve import SolveResult
from rotaflow.services.generate import publish_run
from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.year_report import year_report
from rotaflow.validations.instances import block_instance

PROGRAM = "tiny-internal-medicine-residency"
UNTIL = "2027-08-05"


def _published(folder: Path, settings: Settings) -> None:
    """B1 published: R1 works DAY on its first ten days, R2 a 24-hour call on Saturday 3 July, R3 nights on
    its first four days; history.csv adds R2's night of Sunday 1 August (B2, not published)."""
    with (folder / "history.csv").open("a", encoding="utf-8") as handle:
        handle.write("R2,2027-08-01,NIGHT\n")
    with (folder / "absences.csv").open("a", encoding="utf-8") as handle:
        handle.write("R3,2027-07-20,2027-07-21,sick,true\n")
    with (folder / "program.yaml").open("a", encoding="utf-8") as handle:
        handle.write("holidays: [2027-07-05, 2027-08-02]\n")  # Independence Day observed; a Monday in B2
    engine = database_engine(settings)
    try:
        version = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False).result.version
        instance = block_instance(load_bundle(str(folder), settings=settings), "B1")
        cells: set[Cell] = {("R1", d, "DAY") for d in range(10)} | {("R3", d, "NIGHT") for d in range(4)}
        cells.add(("R2", 2, "CALL24"))
        result = SolveResult("feasible", 0.0, 0.0, 0.0, frozenset(cells))
        summary = GenerateResult.start(
            run_id=str(uuid.uuid4()),
            program=PROGRAM,
            program_version=version,
            block_id="B1",
            rules=[],
            time_limit_seconds=1,
        ).solved(result)
        publish_run(
            engine,
            program_key=PROGRAM,
            version=version,
            instance=instance,
            result=result,
            summary=summary,
            started_at=dt.datetime.now(dt.UTC),
        )
    finally:
        engine.dispose()


def test_the_year_so_far_per_resident_against_the_cohort(
    tiny_dir: Path, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _published(tiny_dir, settings)
    out = tmp_path / "report"
    code = main(["report", "year", "--program", str(tiny_dir), "--out", str(out), "--until", UNTIL, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    printed = json.loads(captured.out)
    assert (printed["first"], printed["until"]) == ("2027-07-01", UNTIL)
    with (out / "year.csv").open(encoding="utf-8", newline="") as handle:
        rows = {r["person_id"]: r for r in csv.DictReader(handle)}
    assert sorted(rows) == ["R1", "R2", "R3"]  # residents only
    # 36 days from 1 July to 5 August; R3 was away two days
    assert {p: (r["days"], r["leave_days"], r["available_days"]) for p, r in rows.items()} == {
        "R1": ("36", "0", "36"),
        "R2": ("36", "0", "36"),
        "R3": ("36", "2", "34"),
    }
    # R1: ten 12-hour days, three of them on a weekend (Sat 3, Sun 4, Sat 10 July)
    assert (rows["R1"]["shifts"], rows["R1"]["hours"], rows["R1"]["weekends"]) == ("10", "120.0", "3")
    # R2: a 24-hour call with its 4-hour hand-off on a Saturday, and history's Sunday night in B2
    r2 = rows["R2"]
    assert (r2["calls"], r2["nights"], r2["weekends"], r2["hours"]) == ("1", "1", "2", "40.0")
    assert r2["calls_per_28"] == str(round(1 * 28 / 36, 3)) == r2["calls_cohort_per_28"]
    # the holiday of 5 July: R1's day shift; R2's and R3's Monday is free
    assert {p: r["holidays"] for p, r in rows.items()} == {"R1": "1", "R2": "0", "R3": "0"}
    # R3: four nights, two on the weekend, per 28 of its 34 available days
    assert (rows["R3"]["nights"], rows["R3"]["nights_per_28"]) == ("4", str(round(4 * 28 / 34, 3)))
    page = (out / "year_report.html").read_text()
    assert all(p in page for p in ("R1", "R2", "R3")) and "Resident One" not in page and "<svg" in page
    assert json.loads((out / "year_report.json").read_text())["residents"] == printed["residents"]


def test_until_defaults_to_the_last_published_day_and_a_bad_date_is_refused(
    tiny_dir: Path, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _published(tiny_dir, settings)
    engine = database_engine(settings)
    try:
        report = year_report(engine, load_bundle(str(tiny_dir), settings=settings))
    finally:
        engine.dispose()
    assert report.until == dt.date(2027, 7, 10)  # R1's last day; history's later night is not counted
    assert {r.person_id: r.nights for r in report.residents} == {"R1": 0, "R2": 0, "R3": 4}
    code = main(["report", "year", "--program", str(tiny_dir), "--out", str(tmp_path / "x"), "--until", "July"])
    assert code == 2 and "--until" in capsys.readouterr().err
    code = main(["report", "year", "--program", str(tiny_dir), "--out", str(tmp_path / "table")])
    assert code == 0 and "R3" in capsys.readouterr().out
