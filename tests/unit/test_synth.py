"""Tests of the synthetic bundle generator (rotaflow.services.synth)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml

from rotaflow.services.synth import (
    BUNDLE_FILES,
    MAX_RESIDENTS,
    build_bundle,
    sample_bundle,
    write_bundle,
)

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
