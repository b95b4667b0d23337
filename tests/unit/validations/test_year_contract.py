"""The year planning inputs of the bundle contract (docs/formats.md, "Year planning inputs").

rotation_requirements.csv, rotation_capacity.csv and rotation_requests.csv (optional), the optional
columns of rotations.csv and rotation_assignments.csv, rotation_assignments.csv itself optional,
and what ingest, Great Expectations and ``rotaflow validate`` make of them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from rotaflow.cli import main
from rotaflow.configs.settings import Settings
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import Program, ProgramVersion, Rotation, RotationAssignment
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.errors import InputError
from rotaflow.services.ingest import ingest_bundle
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.contracts import DATASETS, leave_allowed
from rotaflow.validations.expectations import run_expectations
from tests.schedules import make_solvable, solved_schedule

REQUIREMENTS = "pgy,rotation_id,min_blocks,max_blocks\n1,WARD,1,2\n1,NF,-0,\n2,WARD,1,\n3,NF,+1,1\n"
CAPACITY = "block_id,rotation_id,min_residents,max_residents\nB1,WARD,1,2\nB2,NF,,1\n"
REQUESTS = "person_id,block_id,rotation_id,kind,weight\nR1,B1,NF,off,3\nR2,B2,WARD,on,\n"
ROTATIONS = (
    "rotation_id,name,setting,eligible_shifts,min_residents,max_residents,max_consecutive_blocks,leave_allowed\n"
    "WARD,Ward,inpatient,DAY;CALL24;HOME,1,2,2,yes\n"
    "NF,Night float,night_float,NIGHT,,1,1,\n"
    "VAC,Vacation,leave,,,,,false\n"
)
ASSIGNMENTS = (
    "person_id,block_id,rotation_id,locked,source\n"
    "R1,B1,WARD,true,locked\nR2,B1,WARD,,\nR3,B1,NF,false,manual\n"
    "R1,B2,NF,0,planned\nR2,B2,WARD,1,\nR3,B2,WARD,,planned\n"
)


def _year(files: dict[str, bytes]) -> dict[str, bytes]:
    return {
        **files,
        "rotation_requirements.csv": REQUIREMENTS.encode(),
        "rotation_capacity.csv": CAPACITY.encode(),
        "rotation_requests.csv": REQUESTS.encode(),
    }


def _replace(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    text = files[name].decode()
    assert old in text, f"{old!r} not in {name}"
    return {**files, name: text.replace(old, new, 1).encode()}


def _messages(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(InputError) as caught:
        parse_bundle(files)
    assert caught.value.exit_code == 2
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------- the three new files


def test_the_year_datasets_follow_history_and_are_optional() -> None:
    names = list(DATASETS)
    assert names[names.index("history") + 1 :] == ["rotation_requirements", "rotation_capacity", "rotation_requests"]
    for name in ("rotation_requirements", "rotation_capacity", "rotation_requests", "rotation_assignments"):
        assert not DATASETS[name].required, name
    assert DATASETS["rotation_requirements"].required_columns == ["pgy", "rotation_id", "min_blocks"]
    assert DATASETS["rotation_capacity"].required_columns == ["block_id", "rotation_id"]
    assert DATASETS["rotation_requests"].required_columns == ["person_id", "block_id", "rotation_id", "kind"]


def test_a_bundle_without_them_has_empty_typed_frames(tiny_files: dict[str, bytes]) -> None:
    frames = parse_bundle(tiny_files).frames
    assert frames["rotation_requirements"].empty
    assert list(frames["rotation_requirements"].columns) == ["pgy", "rotation_id", "min_blocks", "max_blocks"]
    assert str(frames["rotation_requirements"]["min_blocks"].dtype) == "Int64"
    assert frames["rotation_capacity"].empty and frames["rotation_requests"].empty
    # the new optional columns are there, empty
    assert frames["rotations"]["leave_allowed"].isna().all()
    assert frames["rotation_assignments"]["locked"].isna().all()


def test_each_year_file_parses_into_a_typed_frame(tiny_files: dict[str, bytes]) -> None:
    frames = parse_bundle(_year(tiny_files)).frames
    requirements = frames["rotation_requirements"]
    assert list(requirements.index) == [1, 2, 3, 4]  # rows keep their numbers
    assert {c: str(t) for c, t in requirements.dtypes.items()} == {
        "pgy": "Int64",
        "rotation_id": "str",
        "min_blocks": "Int64",
        "max_blocks": "Int64",
    }
    assert requirements["min_blocks"].tolist() == [1, 0, 1, 1]  # -0 reads as 0, +1 as 1
    assert requirements["max_blocks"].isna().tolist() == [False, True, True, False]

    capacity = frames["rotation_capacity"]
    assert str(capacity["min_residents"].dtype) == "Int64" and str(capacity["max_residents"].dtype) == "Int64"
    assert capacity["min_residents"].isna().tolist() == [False, True]
    assert capacity["max_residents"].tolist() == [2, 1]

    requests = frames["rotation_requests"]
    assert requests[["person_id", "block_id", "rotation_id", "kind"]].values.tolist() == [
        ["R1", "B1", "NF", "off"],
        ["R2", "B2", "WARD", "on"],
    ]
    assert str(requests["weight"].dtype) == "Int64" and requests["weight"].isna().tolist() == [False, True]


# (file, old text, new text, the exact messages expected)
CASES = [
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "1,WARD,-1,2",
        ["rotation_requirements.csv, row 1, column min_blocks: expected a whole number 0 or more, got '-1'"],
    ),
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "1,WARD,3,2",
        ["rotation_requirements.csv, row 1, column max_blocks: expected a number at least min_blocks, got '2'"],
    ),
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "1,WARD,,2",
        ["rotation_requirements.csv, row 1, column min_blocks: expected a whole number 0 or more, got an empty cell"],
    ),
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "9,WARD,1,2",
        ["rotation_requirements.csv, row 1, column pgy: expected a whole number 1-8, got '9'"],
    ),
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "1,WARD,one,2",
        ["rotation_requirements.csv, row 1, column min_blocks: expected a whole number, got 'one'"],
    ),
    (
        "rotation_requirements.csv",
        "1,WARD,1,2",
        "1,ICU,1,2",
        ["rotation_requirements.csv, row 1, column rotation_id: expected an id listed in rotations.csv, got 'ICU'"],
    ),
    (
        "rotation_requirements.csv",
        "2,WARD,1,",
        "1,WARD,1,",
        [
            "rotation_requirements.csv, row 1: expected a unique combination of pgy, rotation_id, got a repeated row",
            "rotation_requirements.csv, row 3: expected a unique combination of pgy, rotation_id, got a repeated row",
        ],
    ),
    (
        "rotation_requirements.csv",
        "pgy,rotation_id,min_blocks,max_blocks",
        "pgy,rotation_id,min_block,max_blocks",
        [
            "rotation_requirements.csv, column min_block: expected the column min_blocks (extra columns are allowed, "
            "but this looks like a misspelling of it), got an unknown column",
            "rotation_requirements.csv, column min_blocks: expected a column named min_blocks, got no such column",
        ],
    ),
    (
        "rotation_capacity.csv",
        "B1,WARD,1,2",
        "B1,WARD,3,2",
        ["rotation_capacity.csv, row 1, column max_residents: expected a number at least min_residents, got '2'"],
    ),
    (
        "rotation_capacity.csv",
        "B2,NF,,1",
        "B2,NF,,-1",
        ["rotation_capacity.csv, row 2, column max_residents: expected a whole number 0 or more, got '-1'"],
    ),
    (
        "rotation_capacity.csv",
        "B2,NF,,1",
        "B9,NF,,1",
        ["rotation_capacity.csv, row 2, column block_id: expected an id listed in blocks.csv, got 'B9'"],
    ),
    (
        "rotation_capacity.csv",
        "B2,NF,,1",
        "B2,ICU,,1",
        ["rotation_capacity.csv, row 2, column rotation_id: expected an id listed in rotations.csv, got 'ICU'"],
    ),
    (
        "rotation_capacity.csv",
        "B2,NF,,1",
        "B1,WARD,,1",
        [
            "rotation_capacity.csv, row 1: expected a unique combination of block_id, rotation_id, got a repeated row",
            "rotation_capacity.csv, row 2: expected a unique combination of block_id, rotation_id, got a repeated row",
        ],
    ),
    (
        "rotation_requests.csv",
        "R1,B1,NF,off,3",
        "F1,B1,NF,off,3",
        ["rotation_requests.csv, row 1, column person_id: expected a resident of people.csv, got 'F1'"],
    ),
    (
        "rotation_requests.csv",
        "R1,B1,NF,off,3",
        "R9,B1,NF,off,3",
        ["rotation_requests.csv, row 1, column person_id: expected an id listed in people.csv, got 'R9'"],
    ),
    (
        "rotation_requests.csv",
        "R1,B1,NF,off,3",
        "R1,B7,ICU,off,3",
        [
            "rotation_requests.csv, row 1, column block_id: expected an id listed in blocks.csv, got 'B7'",
            "rotation_requests.csv, row 1, column rotation_id: expected an id listed in rotations.csv, got 'ICU'",
        ],
    ),
    (
        "rotation_requests.csv",
        "R1,B1,NF,off,3",
        "R1,B1,NF,maybe,3",
        ["rotation_requests.csv, row 1, column kind: expected on or off, got 'maybe'"],
    ),
    (
        "rotation_requests.csv",
        "R1,B1,NF,off,3",
        "R1,B1,NF,off,0",
        ["rotation_requests.csv, row 1, column weight: expected a whole number 1 or more, got '0'"],
    ),
    (
        "rotation_requests.csv",
        "R2,B2,WARD,on,",
        "R1,B1,NF,on,",
        [
            "rotation_requests.csv, row 1: expected a unique combination of person_id, block_id, rotation_id, "
            "got a repeated row",
            "rotation_requests.csv, row 2: expected a unique combination of person_id, block_id, rotation_id, "
            "got a repeated row",
        ],
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_a_bad_value_is_refused_where_it_is(
    tiny_files: dict[str, bytes], file: str, old: str, new: str, expected: list[str]
) -> None:
    assert _messages(_replace(_year(tiny_files), file, old, new)) == expected


def test_a_request_names_no_one_by_name(tiny_files: dict[str, bytes]) -> None:
    # a name typed where the id goes is refused, and never shown
    files = _replace(_year(tiny_files), "rotation_requests.csv", "R1,B1,NF,off,3", "Resident One,B1,NF,off,3")
    messages = _messages(files)
    assert len(messages) == 1 and messages[0].startswith("rotation_requests.csv, row 1, column person_id: expected")
    assert "Resident One" not in " ".join(messages)


# --------------------------------------------------------------------------- new columns of existing files


def test_the_new_rotations_columns(tiny_files: dict[str, bytes]) -> None:
    rotations = parse_bundle({**tiny_files, "rotations.csv": ROTATIONS.encode()}).frames["rotations"]
    assert rotations["min_residents"].tolist()[0] == 1 and rotations["min_residents"].isna().tolist()[1:] == [True] * 2
    assert rotations["max_residents"].tolist()[:2] == [2, 1]
    assert rotations["max_consecutive_blocks"].tolist()[:2] == [2, 1]
    assert str(rotations["leave_allowed"].dtype) == "boolean"
    assert rotations["leave_allowed"].tolist()[0] is True and pd.isna(rotations["leave_allowed"].tolist()[1])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "DAY;CALL24;HOME,1,2,2,yes",
            "DAY;CALL24;HOME,3,2,2,yes",
            "rotations.csv, row 1, column max_residents: expected a number at least min_residents, got '2'",
        ),
        (
            "DAY;CALL24;HOME,1,2,2,yes",
            "DAY;CALL24;HOME,-1,2,2,yes",
            "rotations.csv, row 1, column min_residents: expected a whole number 0 or more, got '-1'",
        ),
        (
            "DAY;CALL24;HOME,1,2,2,yes",
            "DAY;CALL24;HOME,1,2,0,yes",
            "rotations.csv, row 1, column max_consecutive_blocks: expected a whole number 1 or more, got '0'",
        ),
        (
            "DAY;CALL24;HOME,1,2,2,yes",
            "DAY;CALL24;HOME,1,2,2,sometimes",
            "rotations.csv, row 1, column leave_allowed: expected true or false (also 1/0, yes/no), got 'sometimes'",
        ),
    ],
)
def test_bad_rotations_values(tiny_files: dict[str, bytes], old: str, new: str, expected: str) -> None:
    files = _replace({**tiny_files, "rotations.csv": ROTATIONS.encode()}, "rotations.csv", old, new)
    assert _messages(files) == [expected]


def test_leave_allowed_applies_the_settings_default(tiny_files: dict[str, bytes]) -> None:
    tiny = parse_bundle(tiny_files).frames["rotations"]
    # WARD inpatient, NF night_float, VAC leave; nothing given
    assert leave_allowed(tiny) == {"WARD": False, "NF": False, "VAC": True}
    assert tiny["leave_allowed"].isna().all()  # the default is not written into the frame
    given = parse_bundle({**tiny_files, "rotations.csv": ROTATIONS.encode()}).frames["rotations"]
    assert leave_allowed(given) == {"WARD": True, "NF": False, "VAC": False}
    more = pd.DataFrame(
        {
            "rotation_id": ["CLINIC", "ELECT"],
            "setting": ["outpatient", "elective"],
            "leave_allowed": pd.array([pd.NA, pd.NA], dtype="boolean"),
        }
    )
    assert leave_allowed(more) == {"CLINIC": True, "ELECT": True}


def test_the_new_rotation_assignments_columns(tiny_files: dict[str, bytes]) -> None:
    ra = parse_bundle({**tiny_files, "rotation_assignments.csv": ASSIGNMENTS.encode()}).frames["rotation_assignments"]
    assert str(ra["locked"].dtype) == "boolean"
    assert ra["locked"].fillna(False).tolist() == [True, False, False, False, True, False]
    assert ra["locked"].isna().tolist() == [False, True, False, False, False, True]  # empty: left empty (false)
    assert ra["source"].tolist()[:1] == ["locked"] and ra["source"].isna().sum() == 2
    bad = _replace(
        {**tiny_files, "rotation_assignments.csv": ASSIGNMENTS.encode()},
        "rotation_assignments.csv",
        "R2,B1,WARD,,",
        "R2,B1,WARD,maybe,solver",
    )
    assert _messages(bad) == [
        "rotation_assignments.csv, row 2, column locked: expected true or false (also 1/0, yes/no), got 'maybe'",
        "rotation_assignments.csv, row 2, column source: expected one of manual, planned, locked, got 'solver'",
    ]


def test_a_partial_rotation_assignments_file_parses(tiny_files: dict[str, bytes]) -> None:
    locked_only = "person_id,block_id,rotation_id,locked,source\nR1,B1,WARD,true,locked\n"
    bundle = parse_bundle(_year({**tiny_files, "rotation_assignments.csv": locked_only.encode()}))
    assert bundle.frames["rotation_assignments"]["person_id"].tolist() == ["R1"]


# --------------------------------------------------------------------------- content hash


def _hash_as_before_year_planning(bundle: Bundle) -> str:
    """Bundle.content_hash as it was computed before the year inputs joined the contract."""
    before = {
        "people": None,
        "blocks": None,
        "shifts": [c for c in DATASETS["shifts"].columns if c != "location"],  # calendars' location came later
        "rotations": ["rotation_id", "name", "setting", "eligible_shifts"],
        "rotation_assignments": ["person_id", "block_id", "rotation_id"],
        "coverage": None,
        "absences": None,
        "requests": None,
        "history": None,
    }
    digest = hashlib.sha256()
    digest.update(bundle.program.model_dump_json(exclude={"holidays"}).encode())  # program.yaml had none then
    digest.update(json.dumps(bundle.constraints or {}, sort_keys=True).encode())
    for name in sorted(before):
        frame = bundle.frames[name]
        columns = before[name]
        frame = frame if columns is None else frame[columns]
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False, date_format="%Y-%m-%d").encode())
    return digest.hexdigest()


def test_a_bundle_without_year_inputs_keeps_its_content_hash(tiny_files: dict[str, bytes]) -> None:
    bundle = parse_bundle(tiny_files)
    assert bundle.content_hash == _hash_as_before_year_planning(bundle)
    # header-only year files and empty new columns mean what their absence means
    headers = {
        f"{name}.csv": (",".join(DATASETS[name].columns) + "\n").encode()
        for name in ("rotation_requirements", "rotation_capacity", "rotation_requests")
    }
    rotations = "".join(line + ",,\n" for line in tiny_files["rotations.csv"].decode().splitlines())
    rotations = rotations.replace("eligible_shifts,,", "eligible_shifts,leave_allowed,min_residents", 1)
    assignments = "".join(line + ",\n" for line in tiny_files["rotation_assignments.csv"].decode().splitlines())
    assignments = assignments.replace("rotation_id,", "rotation_id,locked", 1)
    empty_columns = {"rotations.csv": rotations.encode(), "rotation_assignments.csv": assignments.encode()}
    same = parse_bundle({**tiny_files, **empty_columns, **headers})
    assert same.frames["rotations"]["leave_allowed"].isna().all()
    assert same.content_hash == bundle.content_hash


ONE_MORE_COLUMN = (
    "rotation_id,name,setting,eligible_shifts,max_consecutive_blocks\n"
    "WARD,Ward,inpatient,DAY;CALL24;HOME,\nNF,Night float,night_float,NIGHT,2\nVAC,Vacation,leave,,\n"
)
HASH_CHANGES = {
    "year files": {
        "rotation_requirements.csv": REQUIREMENTS,
        "rotation_capacity.csv": CAPACITY,
        "rotation_requests.csv": REQUESTS,
    },
    "one request": {"rotation_requests.csv": "person_id,block_id,rotation_id,kind\nR1,B1,NF,on\n"},
    "rotations columns": {"rotations.csv": ROTATIONS},
    "one value in a new column": {"rotations.csv": ONE_MORE_COLUMN},
    "locked and source": {"rotation_assignments.csv": ASSIGNMENTS},
}


@pytest.mark.parametrize("change", list(HASH_CHANGES))
def test_year_inputs_change_the_content_hash(tiny_files: dict[str, bytes], change: str) -> None:
    files = {**tiny_files, **{name: text.encode() for name, text in HASH_CHANGES[change].items()}}
    assert parse_bundle(files).content_hash != parse_bundle(tiny_files).content_hash


# --------------------------------------------------------------------------- ingest and expectations


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


def test_ingest_stores_the_existing_columns_and_versions_year_changes(
    tiny_dir: Path, settings: Settings, database_url: str
) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        files = _year({"rotations.csv": ROTATIONS.encode(), "rotation_assignments.csv": ASSIGNMENTS.encode()})
        _write(tiny_dir, files)
        first = ingest_bundle(str(tiny_dir), settings=settings, engine=engine, expectations=False)
        assert first.result.version == 1
        assert not {"rotation_requirements", "rotation_capacity", "rotation_requests"} & set(first.result.inserted)
        with UnitOfWork(engine) as uow:
            rotations = uow.s.scalars(select(Rotation).order_by(Rotation.rotation_id)).all()
            assert [(r.rotation_id, r.setting, r.eligible_shifts) for r in rotations] == [
                ("NF", "night_float", "NIGHT"),
                ("VAC", "leave", None),
                ("WARD", "inpatient", "DAY;CALL24;HOME"),
            ]
            assert len(uow.s.scalars(select(RotationAssignment)).all()) == 6

        again = ingest_bundle(str(tiny_dir), settings=settings, engine=engine, expectations=False)
        assert not again.result.created_version

        # only a year input changes: a new program version, its stored rows unchanged
        (tiny_dir / "rotation_requirements.csv").write_text(REQUIREMENTS.replace("1,WARD,1,2", "1,WARD,1,3"))
        changed = ingest_bundle(str(tiny_dir), settings=settings, engine=engine, expectations=False)
        assert changed.result.created_version and changed.result.version == 2
        assert changed.result.unchanged["rotations"] == 3 and changed.result.unchanged["rotation_assignments"] == 6
        with UnitOfWork(engine) as uow:
            program = uow.s.scalars(select(Program)).one()
            hashes = uow.s.scalars(
                select(ProgramVersion.content_hash).where(ProgramVersion.program_id == program.id)
            ).all()
            assert len(set(hashes)) == 2
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning")
def test_a_year_planning_bundle_meets_every_expectation(tiny_files: dict[str, bytes], tmp_path: Path) -> None:
    """The suites generated for the new datasets run with rows in them; no rotation_assignments.csv is no problem."""
    files = {k: v for k, v in _year(tiny_files).items() if k != "rotation_assignments.csv"}
    files["rotations.csv"] = ROTATIONS.encode()
    report = run_expectations(parse_bundle(files).frames, gx_dir=tmp_path / "gx")
    assert report.success and report.problems == []
    for name in ("rotation_requirements", "rotation_capacity", "rotation_requests"):
        ok, total = report.per_dataset[f"rotaflow-{name}".replace("_", "-")]
        assert ok == total > 0, name


# --------------------------------------------------------------------------- a block without rotation rows


def test_validate_of_a_block_without_rotation_rows_exits_2_naming_the_file(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solvable = make_solvable(tiny_dir)
    schedule = solved_schedule(solvable, "B1", tmp_path / "assignments.csv")
    path = solvable / "rotation_assignments.csv"
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True) if ",B1," not in line))
    out = tmp_path / "out"
    code = main(
        ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), "--block", "B1"]
        + ["--no-flow", "--no-data-docs"]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert (
        "rotation_assignments.csv, column block_id: expected a row for each resident in block B1 "
        "(or plan the year: rotaflow plan-year), got no row for block B1"
    ) in err
