"""``rotaflow plan-year`` on a small year made for it (the tiny bundle grown to nine residents and six blocks):
the plan it writes is checked here by reading the files with the csv module and counting, not by the planner."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rotaflow.cli import main
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.errors import InputError
from rotaflow.services.ingest import database_engine, load_bundle
from rotaflow.services.year import PublishedPlan, checked_plan, published_plan
from rotaflow.validations.instances import block_instance
from tests.conftest import TINY

PROGRAM = "tiny-internal-medicine-residency"
FIRST = dt.date(2027, 7, 1)
BLOCKS = [f"B{n}" for n in range(1, 7)]
RESIDENTS = {f"R{n}": 1 + (n - 1) // 3 for n in range(1, 10)}  # R1-R3 PGY-1, R4-R6 PGY-2, R7-R9 PGY-3

ROTATIONS = """rotation_id,name,setting,eligible_shifts,min_residents,max_residents,max_consecutive_blocks,leave_allowed
WARD,Ward,inpatient,DAY;CALL24;HOME,2,4,2,
NF,Night float,night_float,NIGHT,1,2,1,
ICU,Intensive care,inpatient,DAY;CALL24,,2,,
CLINIC,Clinic,outpatient,DAY,,,,
VAC,Vacation,leave,,,2,,
"""
REQUIREMENTS = """pgy,rotation_id,min_blocks,max_blocks
1,WARD,2,3
1,NF,1,2
1,CLINIC,1,
1,VAC,0,1
2,WARD,1,2
2,NF,1,2
2,ICU,1,2
2,CLINIC,1,
2,VAC,1,1
3,WARD,1,2
3,NF,1,1
3,ICU,1,2
3,CLINIC,1,
3,VAC,1,1
"""


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def year_bundle(folder: Path) -> Path:
    """The tiny bundle as a year: six 28-day blocks, nine residents, five rotations with their capacities, the
    PGYs' requirements, a block override, wishes, two locked rows, a vacation and a sick day."""
    shutil.copytree(TINY, folder)
    _write(
        folder / "blocks.csv",
        "block_id,start_date,end_date\n"
        + "".join(
            f"{b},{FIRST + dt.timedelta(days=28 * n)},{FIRST + dt.timedelta(days=28 * n + 27)}\n"
            for n, b in enumerate(BLOCKS)
        ),
    )
    _write(
        folder / "people.csv",
        "person_id,name,email,role,pgy,fte,skills\n"
        + "".join(f"{p},Resident Number {p[1:]},,resident,{g},1,\n" for p, g in RESIDENTS.items())
        + "F1,Faculty One,f1@example.org,faculty,,0.8,\n",
    )
    _write(folder / "rotations.csv", ROTATIONS)
    _write(folder / "rotation_requirements.csv", REQUIREMENTS)
    _write(
        folder / "rotation_capacity.csv", "block_id,rotation_id,min_residents,max_residents\nB3,ICU,,1\nB6,WARD,3,\n"
    )
    _write(
        folder / "rotation_requests.csv",
        "person_id,block_id,rotation_id,kind,weight\nR1,B2,CLINIC,on,2\nR4,B5,NF,off,1\nR7,B1,ICU,on,1\n",
    )
    _write(
        folder / "rotation_assignments.csv",
        "person_id,block_id,rotation_id,locked,source\nR2,B4,VAC,true,manual\nR5,B1,WARD,true,manual\nF1,B1,WARD,,\n",
    )
    _write(
        folder / "absences.csv",
        "person_id,start_date,end_date,type,blocking\n"
        "R3,2027-08-05,2027-08-12,vacation,true\n"
        "R6,2027-11-20,2027-11-20,sick,true\n"
        "R1,2027-07-10,2027-07-11,conference,false\n",
    )
    _write(folder / "requests.csv", "person_id,date,shift_id,kind,weight\n")
    _write(folder / "history.csv", "person_id,date,shift_id\n")
    return folder


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def broken_rules(bundle: Path, plan: Path) -> list[str]:
    """Every rule of the year counted from the files alone (csv module, no rotaflow code): each resident once per
    block, the PGY's requirements (and only its rotations, locked rows apart), runs, head-counts with the
    block overrides, locked rows kept, blocking absences on rotations that allow leave."""
    people = {r["person_id"]: int(r["pgy"]) for r in _rows(bundle / "people.csv") if r["role"] == "resident"}
    blocks = sorted(_rows(bundle / "blocks.csv"), key=lambda r: r["start_date"])
    order = [b["block_id"] for b in blocks]
    rotations = {r["rotation_id"]: r for r in _rows(bundle / "rotations.csv")}
    names = ("rotation_capacity.csv", "rotation_requirements.csv", "rotation_assignments.csv", "absences.csv")
    optional = {name: _rows(bundle / name) if (bundle / name).exists() else [] for name in names}
    capacity = {(r["block_id"], r["rotation_id"]): r for r in optional["rotation_capacity.csv"]}
    requirements = optional["rotation_requirements.csv"]
    rows = _rows(plan)
    on = {(r["person_id"], r["block_id"]): r["rotation_id"] for r in rows if r["person_id"] in people}
    found = [f"{p} has no row for {b}" for p in people for b in order if (p, b) not in on]
    resident_rows = [r for r in rows if r["person_id"] in people]
    found += [f"{len(resident_rows)} rows for {len(on)} resident-blocks"] if len(resident_rows) != len(on) else []
    locked = {
        (r["person_id"], r["block_id"]): r["rotation_id"]
        for r in optional["rotation_assignments.csv"]
        if (r.get("locked") or "").strip().lower() in ("true", "1", "yes") and r["person_id"] in people
    }
    found += [f"locked {cell} moved" for cell, rotation in locked.items() if on.get(cell) != rotation]
    for person, pgy in people.items():
        count = Counter(on.get((person, b)) for b in order)
        mine = [q for q in requirements if int(q["pgy"]) == pgy]
        named = {q["rotation_id"] for q in mine}
        for (who, block), rotation in on.items():
            if who == person and named and rotation not in named and locked.get((who, block)) != rotation:
                found.append(f"{person} on {rotation} in {block}, not a PGY-{pgy} rotation")
        for q in mine:
            n = count[q["rotation_id"]]
            if n < int(q["min_blocks"]) or (q["max_blocks"] and n > int(q["max_blocks"])):
                found.append(f"{person} does {n} blocks of {q['rotation_id']}")
        for rotation, spec in rotations.items():
            limit = int(spec["max_consecutive_blocks"]) if spec.get("max_consecutive_blocks") else None
            run = 0
            for block in order:
                run = run + 1 if on.get((person, block)) == rotation else 0
                if limit is not None and run > limit:
                    found.append(f"{person} does {run} blocks of {rotation} in a row")
    for block in order:
        head = Counter(r for (_, b), r in on.items() if b == block)
        for rotation, spec in rotations.items():
            override = capacity.get((block, rotation), {})
            low = override.get("min_residents") or spec.get("min_residents")
            high = override.get("max_residents") or spec.get("max_residents")
            if (low and head[rotation] < int(low)) or (high and head[rotation] > int(high)):
                found.append(f"{rotation} has {head[rotation]} in {block} ({low}-{high})")
    given = {r: (spec.get("leave_allowed") or "").strip().lower() for r, spec in rotations.items()}
    leave = {
        r
        for r, spec in rotations.items()
        if given[r] in ("true", "1", "yes") or (not given[r] and spec["setting"] in ("outpatient", "elective", "leave"))
    }
    for absence in optional["absences.csv"]:
        blocking = (absence.get("blocking") or "true").strip().lower() not in ("false", "0", "no")
        if absence["person_id"] not in people or not blocking:
            continue
        start, end = dt.date.fromisoformat(absence["start_date"]), dt.date.fromisoformat(absence["end_date"])
        for b in blocks:
            if dt.date.fromisoformat(b["start_date"]) <= end and start <= dt.date.fromisoformat(b["end_date"]):
                got = on.get((absence["person_id"], b["block_id"]))
                if got not in leave:
                    found.append(f"{absence['person_id']} away in {b['block_id']} on {got}")
    return sorted(set(found))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["plan-year", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def year(tmp_path: Path, settings: Settings) -> Path:
    return year_bundle(tmp_path / "year")


def test_a_plan_meets_every_requirement_capacity_run_and_leave(
    year: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plan"
    code, printed, err = _run(capsys, "--program", str(year), "--out", str(out), "--time-limit", "20", "--json")
    assert code == 0, err
    summary: dict[str, Any] = json.loads(printed)
    assert summary["status"] == "optimal" and summary["gap"] == 0.0 and summary["published"] is None
    assert (summary["residents"], summary["blocks"]) == (9, 6)
    assert sorted(summary["files"]) == ["plan_summary.json", "rotation_assignments.csv", "year.html"]
    assert broken_rules(year, out / "rotation_assignments.csv") == []
    rows = _rows(out / "rotation_assignments.csv")
    assert list(rows[0]) == ["person_id", "block_id", "rotation_id", "locked", "source"]
    locked = {(r["person_id"], r["block_id"], r["rotation_id"]) for r in rows if r["locked"] == "true"}
    assert locked == {("R2", "B4", "VAC"), ("R5", "B1", "WARD")}
    assert {r["source"] for r in rows if r["locked"] == "true"} == {"locked"}
    assert {r["source"] for r in rows if r["locked"] == "false" and r["person_id"] != "F1"} == {"planned"}
    assert [r for r in rows if r["person_id"] == "F1"] == [  # faculty are not planned: copied as they were
        {"person_id": "F1", "block_id": "B1", "rotation_id": "WARD", "locked": "false", "source": "manual"}
    ]
    stored = json.loads((out / "plan_summary.json").read_text())
    assert {k: stored[k] for k in ("status", "objective", "best_bound", "unmet")} == {
        k: summary[k] for k in ("status", "objective", "best_bound", "unmet")
    }
    assert isinstance(stored["solve_seconds"], float) and stored["diagnosis"] == []
    granted = {(r["person_id"], r["block_id"]): r["rotation_id"] for r in rows}
    wishes = {("R1", "B2"): granted["R1", "B2"] == "CLINIC", ("R4", "B5"): granted["R4", "B5"] != "NF"}
    unmet = {(u["person_id"], u["block_id"]) for u in summary["unmet"]}
    assert all(ok == (cell not in unmet) for cell, ok in wishes.items())
    page = (out / "year.html").read_text()
    assert all(p in page for p in RESIDENTS) and "Resident Number" not in page and "<script" not in page
    assert "Head-count per block" in page


def test_an_impossible_year_exits_3_and_says_why(
    year: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # every resident needs two blocks of night float, which takes one resident a block: 18 > 6
    text = REQUIREMENTS.replace("1,NF,1,2", "1,NF,2,2").replace("2,NF,1,2", "2,NF,2,2").replace("3,NF,1,1", "3,NF,2,2")
    _write(year / "rotation_requirements.csv", text)
    _write(year / "rotations.csv", ROTATIONS.replace("NIGHT,1,2,1,", "NIGHT,,1,,"))
    out = tmp_path / "plan"
    code, printed, err = _run(capsys, "--program", str(year), "--out", str(out), "--time-limit", "20", "--json")
    assert code == 3
    summary = json.loads(printed)
    assert summary["status"] == "infeasible" and summary["objective"] is None
    messages = [g["message"] for g in summary["diagnosis"]]
    assert "NF takes at most 1 resident in each of 6 blocks (6 resident-blocks)" in messages
    assert any("at least 2 blocks of NF" in m for m in messages)
    assert "cannot be planned" in err and "NF takes at most 1 resident" in err
    assert not (out / "rotation_assignments.csv").exists()
    assert "Why no plan is possible" in (out / "year.html").read_text()


def test_a_bad_requirements_file_is_refused_where_it_is_wrong(
    year: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(year / "rotation_requirements.csv", REQUIREMENTS.replace("1,WARD,2,3", "1,WARD,-1,3"))
    out = tmp_path / "plan"
    code, _, err = _run(capsys, "--program", str(year), "--out", str(out))
    assert code == 2
    assert "rotation_requirements.csv" in err and "row 1" in err and "min_blocks" in err
    assert not out.exists()


def test_options_are_checked_before_anything_runs(
    year: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for option, value in (("--time-limit", "0"), ("--time-limit", "inf"), ("--vacation", "maybe")):
        code, _, err = _run(capsys, "--program", str(year), "--out", str(tmp_path / "x"), option, value)
        assert code == 2 and option in err
    assert not (tmp_path / "x").exists()


def test_vacation_is_hard_unless_asked_soft(year: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """R3 is away in B2 and locked to the ward there: hard, the plan is impossible and both are named; soft, the
    vacation is refused and reported."""
    with (year / "rotation_assignments.csv").open("a", encoding="utf-8") as handle:
        handle.write("R3,B2,WARD,true,manual\n")
    code, printed, _ = _run(capsys, "--program", str(year), "--out", str(tmp_path / "hard"), "--json")
    assert code == 3
    kinds = {g["kind"]: g["message"] for g in json.loads(printed)["diagnosis"]}
    assert kinds == {
        "leave": "R3 is away 8 days in block B2 (vacation) and needs a rotation that allows leave there (CLINIC, VAC)",
        "locked": "R3 is locked to WARD in block B2",
    }
    out = tmp_path / "soft"
    code, printed, err = _run(capsys, "--program", str(year), "--out", str(out), "--vacation", "soft", "--json")
    assert code == 0, err
    summary = json.loads(printed)
    assert summary["vacation"] == "soft"
    leave = [u for u in summary["unmet"] if u["kind"] == "leave"]
    assert leave == [
        {
            "kind": "leave",
            "person_id": "R3",
            "block_id": "B2",
            "rotation_id": "WARD",
            "reason": "8 days of vacation not granted: locked to WARD, which does not allow leave",
        }
    ]
    assert broken_rules(year, out / "rotation_assignments.csv") == [
        "R3 away in B2 on WARD"  # the one the soft run was allowed to refuse
    ]


def test_a_published_plan_completes_the_rotations_a_bundle_leaves_out(
    year: Path, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exception, match="rotation_assignments.csv"):  # only the two locked rows: B2 has none
        block_instance(load_bundle(str(year), settings=settings), "B2")
    out = tmp_path / "plan"
    code, printed, err = _run(capsys, "--program", str(year), "--out", str(out), "--publish", "--json")
    assert code == 0, err
    assert json.loads(printed)["published"] == 1
    engine = database_engine(settings)
    try:
        stored = published_plan(engine, PROGRAM)
    finally:
        engine.dispose()
    assert stored is not None and stored.number == 1 and len(stored.rows) == 9 * 6 + 1  # and F1's row
    planned = {(r["person_id"], r["block_id"]): r["rotation_id"] for r in _rows(out / "rotation_assignments.csv")}
    bundle = load_bundle(str(year), settings=settings)
    assert bundle.plan is not None
    for block in ("B1", "B2"):
        instance = block_instance(bundle, block)
        assert {p: instance.rotation[p, 0] for p in RESIDENTS} == {p: planned[p, block] for p in RESIDENTS}
    # a row the bundle gives wins over the plan's; the plan is not part of the bundle's content
    assert block_instance(bundle, "B1").rotation["R5", 0] == "WARD"
    assert bundle.content_hash == load_bundle(str(year), settings=settings).content_hash
    # publishing again supersedes the first plan
    code, printed, _ = _run(capsys, "--program", str(year), "--out", str(tmp_path / "again"), "--publish", "--json")
    assert code == 0 and json.loads(printed)["published"] == 2


def test_planning_reads_no_database(
    year: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rotation_assignments.csv holds two rows only: planning needs nothing from the database (here one that
    cannot be reached); --publish does."""
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    monkeypatch.setenv("ROTAFLOW_SECRET_KEY", "Vq3" + uuid.uuid4().hex + uuid.uuid4().hex)
    get_settings.cache_clear()
    try:
        code, _, err = _run(capsys, "--program", str(year), "--out", str(tmp_path / "plan"), "--time-limit", "20")
        assert code == 0, err
        code, _, err = _run(capsys, "--program", str(year), "--out", str(tmp_path / "again"), "--publish")
        assert code == 1 and "cannot be used" in err
    finally:
        get_settings.cache_clear()


def test_a_published_plan_that_no_longer_fits_the_bundle_is_refused_where_it_is_wrong(year: Path) -> None:
    bundle = load_bundle(str(year), year_plan=False)
    plan = PublishedPlan(
        3,
        1,
        (
            ("R1", "B1", "WARD", False, "planned"),
            ("R1", "B2", "GONE", False, "planned"),
            ("R2", "B9", "WARD", False, "planned"),
            ("X9", "B1", "GONE", False, "planned"),  # no longer a resident: left out
        ),
    )
    with pytest.raises(InputError) as refused:
        checked_plan(bundle, plan)
    assert [(p.file, p.row, p.column, p.got) for p in refused.value.problems] == [
        ("year plan 3", 2, "rotation_id", "GONE"),
        ("year plan 3", 3, "block_id", "B9"),
    ]
    fine = PublishedPlan(3, 1, (("R1", "B1", "WARD", False, "planned"), ("X9", "B1", "WARD", False, "planned")))
    assert checked_plan(bundle, fine)["person_id"].tolist() == ["R1"]


def test_the_sample_year_is_planned_within_every_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sample program as shipped (its requirements, capacities, overrides, locked rows, absences and wishes)."""
    sample = Path(__file__).resolve().parents[3] / "configs" / "programs" / "sample"
    out = tmp_path / "plan"
    code, printed, err = _run(capsys, "--program", str(sample), "--out", str(out), "--time-limit", "30", "--json")
    assert code == 0, err
    summary = json.loads(printed)
    assert summary["status"] == "optimal" and summary["residents"] == 36 and summary["blocks"] == 13
    assert broken_rules(sample, out / "rotation_assignments.csv") == []
    locked = [r for r in _rows(out / "rotation_assignments.csv") if r["locked"] == "true"]
    assert locked and all(r["source"] == "locked" for r in locked)  # the sample locks a few residents' rows
