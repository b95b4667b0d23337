"""Tests of the synthetic bundle generator (rotaflow.services.synth)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml

from rotaflow.constraints.preflight import preflight
from rotaflow.constraints.year import plan_year
from rotaflow.services.synth import (
    BUNDLE_FILES,
    MAX_RESIDENTS,
    ROTATION_WEIGHTS,
    build_bundle,
    sample_bundle,
    write_bundle,
)
from rotaflow.services.year import run_plan, year_problem
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.instances import block_instance, rules_for

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "configs" / "programs" / "sample"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SIZES = (3, 4, 5, 7, 10, 17, 29, 150, MAX_RESIDENTS)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@cache
def _bundle(residents: int, seed: int = 0) -> dict[str, str]:
    return build_bundle(residents=residents, seed=seed)


@cache
def _sample() -> dict[str, str]:
    return sample_bundle()


def _bundles() -> list[tuple[str, dict[str, str]]]:
    return [("sample", _sample())] + [(f"n{n}", _bundle(n, seed=n)) for n in SIZES]


BUNDLE_IDS = ["sample"] + [f"n{n}" for n in SIZES]


def _get(key: str) -> dict[str, str]:
    return dict(_bundles())[key]


def _is_true(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _dates(first: str, last: str) -> list[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _applies(applies_on: str, day: date) -> bool:
    if applies_on == "daily":
        return True
    if applies_on == "weekday":
        return day.weekday() < 5
    if applies_on == "weekend":
        return day.weekday() >= 5
    if applies_on[0].isdigit():
        return date.fromisoformat(applies_on) == day
    return WEEKDAYS[day.weekday()] in applies_on.split(";")


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_same_text() -> None:
    assert build_bundle(residents=40, seed=7) == build_bundle(residents=40, seed=7)


def test_different_seed_changes_people_and_absences() -> None:
    first, second = build_bundle(residents=40, seed=1), build_bundle(residents=40, seed=2)
    assert first["people.csv"] != second["people.csv"]
    assert first["absences.csv"] != second["absences.csv"]


def test_file_set() -> None:
    bundle = _sample()
    assert tuple(bundle) == BUNDLE_FILES
    assert set(bundle) == {
        "program.yaml",
        "people.csv",
        "blocks.csv",
        "shifts.csv",
        "rotations.csv",
        "rotation_assignments.csv",
        "coverage.csv",
        "absences.csv",
        "requests.csv",
        "rotation_requirements.csv",
        "rotation_capacity.csv",
        "rotation_requests.csv",
    }
    assert all(text.endswith("\n") and "\r" not in text for text in bundle.values())


def test_program_yaml() -> None:
    program = yaml.safe_load(_sample()["program.yaml"])
    assert program == {
        "name": "Sample Family Medicine Residency",
        "timezone": "Pacific/Honolulu",
        "acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": True},
    }


def test_sample_on_disk_is_regenerated_from_code() -> None:
    for filename, text in sample_bundle().items():
        assert (SAMPLE_DIR / filename).read_bytes() == text.encode("utf-8"), filename
    assert sorted(p.name for p in SAMPLE_DIR.iterdir()) == sorted(BUNDLE_FILES)


def test_write_bundle(tmp_path: Path) -> None:
    out = tmp_path / "new" / "bundle"
    paths = write_bundle(out, residents=5, seed=3)
    assert [p.name for p in paths] == list(BUNDLE_FILES)
    assert {p.name: p.read_text(encoding="utf-8") for p in paths} == build_bundle(residents=5, seed=3)


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("residents", [2, 301, 0, -3])
def test_bad_resident_count(residents: int) -> None:
    with pytest.raises(ValueError):
        build_bundle(residents=residents)


def test_bad_other_arguments() -> None:
    with pytest.raises(ValueError):
        build_bundle(residents=10, timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        build_bundle(residents=10, blocks=0)
    with pytest.raises(ValueError):
        build_bundle(residents=10, faculty=0)


def test_three_hundred_residents() -> None:
    people = _rows(_bundle(MAX_RESIDENTS, seed=MAX_RESIDENTS)["people.csv"])
    residents = [p for p in people if p["role"] == "resident"]
    assert len(residents) == 300
    assert [sum(p["pgy"] == str(g) for p in residents) for g in (1, 2, 3)] == [100, 100, 100]
    assert sum(p["role"] == "faculty" for p in people) == 100


@pytest.mark.parametrize(("residents", "split"), [(3, [1, 1, 1]), (7, [3, 2, 2]), (8, [3, 3, 2])])
def test_pgy_split_is_even(residents: int, split: list[int]) -> None:
    people = _rows(build_bundle(residents=residents)["people.csv"])
    pgys = [p["pgy"] for p in people if p["role"] == "resident"]
    assert [pgys.count(str(g)) for g in (1, 2, 3)] == split
    assert sum(p["role"] == "faculty" for p in people) == 4


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_people(key: str) -> None:
    people = _rows(_get(key)["people.csv"])
    ids = [p["person_id"] for p in people]
    assert len(ids) == len(set(ids))
    for person in people:
        assert person["person_id"][0] in "RF" and person["person_id"][1:].isdigit()
        assert person["email"] == f"{person['person_id'].lower()}@example.org"
        assert person["name"] and person["name"] not in ids
        assert 0 < float(person["fte"]) <= 1
        if person["role"] == "resident":
            assert person["pgy"] in ("1", "2", "3") and person["fte"] == "1"
        else:
            assert person["role"] == "faculty" and person["pgy"] == ""


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_blocks_are_contiguous(key: str) -> None:
    blocks = _rows(_get(key)["blocks.csv"])
    assert len(blocks) == 13
    assert blocks[0]["start_date"] == "2027-07-01"
    assert [b["block_id"] for b in blocks] == [f"2027-B{i:02d}" for i in range(1, 14)]
    previous_end: date | None = None
    for block in blocks:
        start = date.fromisoformat(block["start_date"])
        end = date.fromisoformat(block["end_date"])
        assert (end - start).days == 27
        if previous_end is not None:
            assert start == previous_end + timedelta(days=1)
        previous_end = end


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_one_rotation_per_resident_per_block(key: str) -> None:
    bundle = _get(key)
    residents = {p["person_id"] for p in _rows(bundle["people.csv"]) if p["role"] == "resident"}
    blocks = [b["block_id"] for b in _rows(bundle["blocks.csv"])]
    pairs = [(a["person_id"], a["block_id"]) for a in _rows(bundle["rotation_assignments.csv"])]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(r, b) for r in residents for b in blocks}


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_references_exist(key: str) -> None:
    bundle = _get(key)
    people = _rows(bundle["people.csv"])
    person_ids = {p["person_id"] for p in people}
    skills = {s for p in people for s in p["skills"].split(";") if s}
    block_ids = {b["block_id"] for b in _rows(bundle["blocks.csv"])}
    shifts = {s["shift_id"]: s for s in _rows(bundle["shifts.csv"])}
    rotations = {r["rotation_id"]: r for r in _rows(bundle["rotations.csv"])}
    for rotation in rotations.values():
        assert set(filter(None, rotation["eligible_shifts"].split(";"))) <= set(shifts)
    for row in _rows(bundle["rotation_assignments.csv"]):
        assert row["person_id"] in person_ids and row["person_id"].startswith("R")
        assert row["block_id"] in block_ids and row["rotation_id"] in rotations
    for row in _rows(bundle["coverage.csv"]):
        assert row["shift_id"] in shifts
        assert row["rotation_id"] == "" or row["rotation_id"] in rotations
        assert row["skill"] == "" or row["skill"] in skills
    for row in _rows(bundle["absences.csv"]):
        assert row["person_id"] in person_ids
    for row in _rows(bundle["requests.csv"]):
        assert row["person_id"] in person_ids
        assert row["shift_id"] == "" or row["shift_id"] in shifts


def test_shifts_and_rotations_catalogue() -> None:
    bundle = _sample()
    shifts = {s["shift_id"]: s for s in _rows(bundle["shifts.csv"])}
    assert list(_rows(bundle["shifts.csv"])[0]) == [
        "shift_id",
        "name",
        "start",
        "end",
        "transition_minutes",
        "kind",
        "in_house_call",
        "counts_as_work",
        "home_call_hours",
    ]
    expected = {
        "DAY": ("07:00", "19:00", "0", "day", "false", ""),
        "NIGHT": ("19:00", "07:00", "0", "night", "false", ""),
        "CALL24": ("07:00", "07:00", "240", "call", "true", ""),
        "CLINIC_AM": ("08:00", "12:00", "0", "clinic", "false", ""),
        "CLINIC_PM": ("13:00", "17:00", "0", "clinic", "false", ""),
        "HOME_CALL": ("17:00", "07:00", "0", "home_call", "false", "2"),
    }
    for shift_id, (start, end, transition, kind, in_house, home_hours) in expected.items():
        row = shifts[shift_id]
        assert (row["start"], row["end"], row["transition_minutes"], row["kind"]) == (
            start,
            end,
            transition,
            kind,
        )
        assert (row["in_house_call"], row["counts_as_work"], row["home_call_hours"]) == (
            in_house,
            "true",
            home_hours,
        )
    rotations = {r["rotation_id"]: r for r in _rows(bundle["rotations.csv"])}
    assert {k: (r["setting"], r["eligible_shifts"]) for k, r in rotations.items()} == {
        "INPT": ("inpatient", "DAY;CALL24"),
        "NF": ("night_float", "NIGHT"),
        "ICU": ("inpatient", "DAY;CALL24"),
        "OB": ("inpatient", "DAY;NIGHT;HOME_CALL"),
        "CLINIC": ("outpatient", "CLINIC_AM;CLINIC_PM;HOME_CALL"),
        "ELEC": ("elective", "CLINIC_AM;CLINIC_PM"),
        "VAC": ("leave", ""),
    }


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_coverage_values(key: str) -> None:
    rows = _rows(_get(key)["coverage.csv"])
    assert list(rows[0]) == [
        "shift_id",
        "applies_on",
        "rotation_id",
        "role",
        "min_pgy",
        "skill",
        "min",
        "max",
        "target",
    ]
    for row in rows:
        applies = row["applies_on"]
        assert (
            applies in ("daily", "weekday", "weekend")
            or set(applies.split(";")) <= set(WEEKDAYS)
            or date.fromisoformat(applies).weekday() < 5
        )
        assert row["role"] in ("resident", "faculty")
        assert int(row["min"]) >= 0
        if row["max"]:
            assert int(row["max"]) >= int(row["min"])
        if row["target"]:
            assert int(row["target"]) > int(row["min"])
            assert not row["max"] or int(row["target"]) <= int(row["max"])
    sample_rows = _rows(_sample()["coverage.csv"])
    assert sum(bool(r["min_pgy"]) for r in sample_rows) == 1
    assert sum(r["applies_on"][0].isdigit() for r in sample_rows) == 1
    assert any(r["role"] == "faculty" and int(r["min"]) >= 1 for r in sample_rows)
    assert all(int(r["min"]) >= 1 for r in sample_rows)


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_absences_and_requests_inside_the_year(key: str) -> None:
    bundle = _get(key)
    blocks = _rows(bundle["blocks.csv"])
    first, last = date.fromisoformat(blocks[0]["start_date"]), date.fromisoformat(blocks[-1]["end_date"])
    absences = _rows(bundle["absences.csv"])
    types = set()
    for row in absences:
        start, end = date.fromisoformat(row["start_date"]), date.fromisoformat(row["end_date"])
        assert first <= start <= end <= last
        assert (end - start).days + 1 <= 14
        assert row["blocking"] in ("true", "false")
        types.add((row["type"], row["blocking"]))
    if key in ("sample", "n150", "n300"):
        assert {("vacation", "true"), ("sick", "true"), ("conference", "false")} <= types
    shifts = {s["shift_id"] for s in _rows(bundle["shifts.csv"])}
    requests = _rows(bundle["requests.csv"])
    assert requests
    for row in requests:
        assert first <= date.fromisoformat(row["date"]) <= last
        assert row["kind"] in ("on", "off")
        assert 1 <= int(row["weight"]) <= 5
        assert row["shift_id"] == "" or row["shift_id"] in shifts
    if key == "sample":
        assert any(r["shift_id"] == "" for r in requests)
        assert {r["kind"] for r in requests} == {"on", "off"}


# --------------------------------------------------------------------------- schedulability


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_supply_meets_every_coverage_minimum(key: str) -> None:
    """Each block, day and coverage row: eligible people not on blocking leave >= min."""
    bundle = _get(key)
    people = {p["person_id"]: p for p in _rows(bundle["people.csv"])}
    eligible_shifts = {
        r["rotation_id"]: set(filter(None, r["eligible_shifts"].split(";"))) for r in _rows(bundle["rotations.csv"])
    }
    coverage = _rows(bundle["coverage.csv"])
    faculty_shifts = {r["shift_id"] for r in coverage if r["role"] == "faculty"}
    rotation_of: dict[tuple[str, str], str] = {
        (a["block_id"], a["person_id"]): a["rotation_id"] for a in _rows(bundle["rotation_assignments.csv"])
    }
    away: dict[date, set[str]] = {}
    for absence in _rows(bundle["absences.csv"]):
        if _is_true(absence["blocking"]):
            for day in _dates(absence["start_date"], absence["end_date"]):
                away.setdefault(day, set()).add(absence["person_id"])
    checked = 0
    for block in _rows(bundle["blocks.csv"]):
        pools = []
        for row in coverage:
            pool = set()
            for pid, person in people.items():
                rotation = rotation_of.get((block["block_id"], pid))
                if rotation is None:
                    if person["role"] != "faculty" or row["shift_id"] not in faculty_shifts:
                        continue
                elif row["shift_id"] not in eligible_shifts[rotation]:
                    continue
                if row["role"] and person["role"] != row["role"]:
                    continue
                if row["rotation_id"] and rotation != row["rotation_id"]:
                    continue
                if row["min_pgy"] and int(person["pgy"] or 0) < int(row["min_pgy"]):
                    continue
                if row["skill"] and row["skill"] not in person["skills"].split(";"):
                    continue
                pool.add(pid)
            pools.append((row, pool))
        for day in _dates(block["start_date"], block["end_date"]):
            absent = away.get(day, set())
            for row, pool in pools:
                if _applies(row["applies_on"], day):
                    available = len(pool - absent)
                    assert available >= int(row["min"]), (block["block_id"], day, row)
                    checked += 1
    assert checked > 0


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_faculty_maximum_leaves_room_to_supervise_every_required_resident(key: str) -> None:
    """On each day a faculty row applies, its max covers the resident minimums of the shift even if all are PGY-1.

    (supervision_ratio: PGY-1 1:2, others 1:4, on shifts with a faculty row.)  Before the faculty
    maximums were sized from the resident rows, 261+ residents asked for 9+ home-call residents a
    night, who need 3 faculty, under a faculty maximum of 2: every block was infeasible.
    """
    bundle = _get(key)
    coverage = _rows(bundle["coverage.csv"])
    faculty = sum(1 for p in _rows(bundle["people.csv"]) if p["role"] == "faculty")
    block = _rows(bundle["blocks.csv"])[0]
    checked = 0
    for row in coverage:
        if row["role"] != "faculty" or row["skill"] or int(row["min"]) <= 0:
            continue
        for day in _dates(block["start_date"], block["end_date"]):
            if not _applies(row["applies_on"], day):
                continue
            resident_rows = [
                r
                for r in coverage
                if r["role"] == "resident" and r["shift_id"] == row["shift_id"] and _applies(r["applies_on"], day)
            ]
            # a date row replaces the pattern rows of its rotation on that date
            dated = {r["rotation_id"] for r in resident_rows if r["applies_on"][0].isdigit()}
            residents = sum(
                int(r["min"]) for r in resident_rows if r["applies_on"][0].isdigit() or r["rotation_id"] not in dated
            )
            needed = -(-residents // 2)
            assert row["max"] == "" or int(row["max"]) >= min(needed, faculty), (day, row, residents)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("residents", [261, MAX_RESIDENTS])
def test_large_programs_pass_the_supervision_screen(residents: int) -> None:
    """Preflight (its supervision capacity screen included) passes the first block of a large program."""
    bundle = parse_bundle({name: text.encode("utf-8") for name, text in _bundle(residents, seed=1).items()})
    report = preflight(block_instance(bundle, "2027-B01"), rules_for(bundle), raise_on_error=False)
    assert report.checked["supervision_capacity"] > 0
    assert report.ok, [r.message for r in report.errors[:3]]


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_average_resident_load_is_comfortable(key: str) -> None:
    """Minimum resident demand per block, spread over working residents, stays <= 50 h/week."""
    bundle = _get(key)
    shifts = {s["shift_id"]: s for s in _rows(bundle["shifts.csv"])}

    def hours(shift_id: str) -> float:
        shift = shifts[shift_id]
        if shift["kind"] == "home_call":
            return float(shift["home_call_hours"])
        start = int(shift["start"][:2]) * 60 + int(shift["start"][3:])
        end = int(shift["end"][:2]) * 60 + int(shift["end"][3:])
        length = (end - start) % (24 * 60) or 24 * 60
        return (length + int(shift["transition_minutes"])) / 60

    coverage = [r for r in _rows(bundle["coverage.csv"]) if r["role"] == "resident"]
    rotations = _rows(bundle["rotation_assignments.csv"])
    for block in _rows(bundle["blocks.csv"]):
        working = sum(1 for a in rotations if a["block_id"] == block["block_id"] and a["rotation_id"] != "VAC")
        demand = 0.0
        for day in _dates(block["start_date"], block["end_date"]):
            dated = {r["shift_id"] for r in coverage if r["applies_on"] == day.isoformat()}
            for row in coverage:
                if row["min_pgy"]:
                    continue  # a subset of the call team, already counted
                if row["shift_id"] in dated and row["applies_on"] != day.isoformat():
                    continue
                if _applies(row["applies_on"], day):
                    demand += int(row["min"]) * hours(row["shift_id"])
        assert demand / working / 4 <= 50, block["block_id"]


# --------------------------------------------------------------------------- year planning inputs


def _year_cells(bundle: dict[str, str]) -> dict[tuple[str, str], str]:
    return {(a["person_id"], a["block_id"]): a["rotation_id"] for a in _rows(bundle["rotation_assignments.csv"])}


def test_sample_year_inputs() -> None:
    bundle = _sample()
    rotations = {r["rotation_id"]: r for r in _rows(bundle["rotations.csv"])}
    assert list(_rows(bundle["rotations.csv"])[0])[4:] == [
        "min_residents",
        "max_residents",
        "max_consecutive_blocks",
        "leave_allowed",
    ]
    assert {k: (r["min_residents"], r["max_residents"], r["max_consecutive_blocks"]) for k, r in rotations.items()} == {
        "INPT": ("7", "9", "3"),
        "ICU": ("3", "5", "2"),
        "NF": ("3", "5", "2"),
        "OB": ("3", "5", "2"),
        "CLINIC": ("6", "9", ""),
        "ELEC": ("", "8", ""),
        "VAC": ("", "3", "1"),
    }
    # the setting's default everywhere, one explicit value
    assert {k: r["leave_allowed"] for k, r in rotations.items() if r["leave_allowed"]} == {"VAC": "true"}
    requirements = _rows(bundle["rotation_requirements.csv"])
    assert {r["pgy"] for r in requirements} == {"1", "2", "3"}
    # the sample's PGY-1 residents never take the vacation block in the rotation cycle, so they may not
    assert ("1", "VAC") not in {(r["pgy"], r["rotation_id"]) for r in requirements}
    assert len(_rows(bundle["rotation_capacity.csv"])) == 3
    wishes = _rows(bundle["rotation_requests.csv"])
    assert len(wishes) == 14 and {w["kind"] for w in wishes} == {"on", "off"}
    assignments = _rows(bundle["rotation_assignments.csv"])
    locked = [a for a in assignments if a["locked"] == "true"]
    assert len({a["person_id"] for a in locked}) == 3 and len(locked) == 3 * 13
    assert all(a["source"] == "manual" for a in locked)
    assert all(a["locked"] == "false" and a["source"] == "" for a in assignments if a not in locked)


def test_year_inputs_are_deterministic_from_the_seed() -> None:
    names = ("rotation_requirements.csv", "rotation_capacity.csv", "rotation_requests.csv")
    first, again, other = (build_bundle(residents=40, seed=seed) for seed in (7, 7, 8))
    assert [first[n] for n in names] == [again[n] for n in names]
    assert first["rotation_requests.csv"] != other["rotation_requests.csv"]
    assert _locked(first) != _locked(other)


@pytest.mark.parametrize("key", BUNDLE_IDS)
def test_year_inputs_are_consistent_with_the_rotation_cycle(key: str) -> None:
    """Counted here without the planner: the generated rotation rows meet every requirement and run limit, every
    rotation's head-count stays within its own bounds, the locked rows also meet the per-block overrides and give
    every blocking absence a rotation that allows leave, and wishes name a rotation the resident's PGY may do."""
    bundle = _get(key)
    pgy = {p["person_id"]: int(p["pgy"]) for p in _rows(bundle["people.csv"]) if p["role"] == "resident"}
    blocks = _rows(bundle["blocks.csv"])
    block_ids = [b["block_id"] for b in blocks]
    rotations = {r["rotation_id"]: r for r in _rows(bundle["rotations.csv"])}
    cells = _year_cells(bundle)
    requirements = {(int(r["pgy"]), r["rotation_id"]): r for r in _rows(bundle["rotation_requirements.csv"])}
    assert {g for g, _ in requirements} == set(pgy.values())
    for (_, rotation_id), row in requirements.items():
        assert rotation_id in rotations and 0 <= int(row["min_blocks"]) <= int(row["max_blocks"]) <= len(blocks)
    for g in set(pgy.values()):
        named = [r for r in requirements.values() if r["pgy"] == str(g)]
        assert sum(int(r["min_blocks"]) for r in named) <= len(blocks) <= sum(int(r["max_blocks"]) for r in named)
    for person, g in pgy.items():
        year = [cells[person, b] for b in block_ids]
        for rotation_id in set(year):
            row = requirements[g, rotation_id]  # only rotations the PGY's requirements name
            assert int(row["min_blocks"]) <= year.count(rotation_id) <= int(row["max_blocks"])
        for (h, rotation_id), row in requirements.items():
            if h == g and rotation_id not in year:
                assert row["min_blocks"] == "0"
        for rotation_id, spec in rotations.items():
            if spec["max_consecutive_blocks"]:
                limit = int(spec["max_consecutive_blocks"])
                runs = [year[i : i + limit + 1] for i in range(len(year) - limit)]
                assert [rotation_id] * (limit + 1) not in runs, (person, rotation_id)
    heads = Counter((block, r) for (_, block), r in cells.items())
    for b in block_ids:
        for rotation_id, spec in rotations.items():
            count = heads[b, rotation_id]
            assert int(spec["min_residents"] or 0) <= count <= int(spec["max_residents"]), (b, rotation_id)
    locked = {(a["person_id"], a["block_id"]): a["rotation_id"] for a in _locked(bundle)}
    assert locked
    for override in _rows(bundle["rotation_capacity.csv"]):
        assert override["block_id"] in block_ids and override["rotation_id"] in rotations
        on = sum(1 for (_, b), r in locked.items() if b == override["block_id"] and r == override["rotation_id"])
        assert not override["max_residents"] or on <= int(override["max_residents"])
    leave_ok = {
        k
        for k, r in rotations.items()
        if _is_true(r["leave_allowed"])
        or (not r["leave_allowed"] and r["setting"] in ("outpatient", "elective", "leave"))
    }
    for absence in _rows(bundle["absences.csv"]):
        if not _is_true(absence["blocking"]) or absence["person_id"] not in {p for p, _ in locked}:
            continue
        for block in blocks:
            if absence["start_date"] <= block["end_date"] and block["start_date"] <= absence["end_date"]:
                assert locked[absence["person_id"], block["block_id"]] in leave_ok
    wishes = _rows(bundle["rotation_requests.csv"])
    assert wishes
    for wish in wishes:
        assert (pgy[wish["person_id"]], wish["rotation_id"]) in requirements
        assert wish["block_id"] in block_ids and wish["kind"] in ("on", "off") and 1 <= int(wish["weight"]) <= 3
        assert wish["person_id"] not in {p for p, _ in locked}
    assert len({(w["person_id"], w["block_id"]) for w in wishes}) == len(wishes)


def _locked(bundle: dict[str, str]) -> list[dict[str, str]]:
    return [a for a in _rows(bundle["rotation_assignments.csv"]) if a["locked"] == "true"]


def test_requirements_follow_the_rotation_mix() -> None:
    """min = floor(0.8 x) (at least 1 when everyone does it), max = ceil(1.2 x) + 1, x the PGY's average."""
    bundle = _bundle(150, seed=150)
    pgy = {p["person_id"]: p["pgy"] for p in _rows(bundle["people.csv"]) if p["role"] == "resident"}
    cells = _year_cells(bundle)
    for row in _rows(bundle["rotation_requirements.csv"]):
        done = [
            sum(1 for (p, _), r in cells.items() if p == person and r == row["rotation_id"])
            for person, g in pgy.items()
            if g == row["pgy"]
        ]
        share = sum(done) / len(done)
        assert int(row["min_blocks"]) == min(max(1, int(share * 0.8)), min(done))
        assert int(row["max_blocks"]) == max(-int(-share * 1.2 // 1) + 1, max(done))
    assert {r["rotation_id"] for r in _rows(bundle["rotation_requirements.csv"])} == set(ROTATION_WEIGHTS)


def test_a_small_synthetic_year_parses_and_is_planned() -> None:
    bundle = parse_bundle({name: text.encode("utf-8") for name, text in build_bundle(residents=12, seed=4).items()})
    for name in ("rotation_requirements", "rotation_capacity", "rotation_requests"):
        assert len(bundle.frames[name]) > 0, name
    assert bundle.frames["rotations"]["max_consecutive_blocks"].notna().any()
    assert bundle.frames["rotation_assignments"]["locked"].fillna(False).astype(bool).sum() == 2 * 13
    plan = run_plan(bundle, time_limit=5)
    assert plan.result.status in ("optimal", "feasible"), plan.result.diagnosis
    problem = plan.problem
    assert len(problem.residents) == 12 and len(problem.blocks) == 13 and len(problem.locked) == 2 * 13
    assert all(plan.result.plan[cell] == rotation for cell, rotation in problem.locked.items())
    assert problem.wishes and problem.capacity and problem.requirements


def test_the_sample_year_is_planned() -> None:
    bundle = parse_bundle({name: text.encode("utf-8") for name, text in _sample().items()})
    result = plan_year(year_problem(bundle), time_limit=30)
    assert result.status in ("optimal", "feasible"), result.diagnosis
    assert len(result.plan) == 36 * 13
