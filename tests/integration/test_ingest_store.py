"""Ingest into a real database: one transaction, versions, soft deletes, audit, no N+1."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from rotaflow.configs.settings import Settings
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import (
    Absence,
    Assignment,
    AuditEntry,
    Person,
    Program,
    ProgramVersion,
    Request,
    RotationAssignment,
)
from rotaflow.db.repositories import ProgramRepository
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.errors import InputError
from rotaflow.services.ingest import ingest_bundle, load_bundle, require_ingested
from rotaflow.storage import LocalStore


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _ingest(source: Path, settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    return ingest_bundle(str(source), settings=settings, engine=engine, expectations=False)


def _count(engine: Engine, model: type, *, include_deleted: bool = False) -> int:
    with UnitOfWork(engine) as uow:
        stmt = select(model)
        if include_deleted:
            stmt = stmt.execution_options(include_deleted=True)
        return len(uow.s.scalars(stmt).all())


def test_ingest_writes_every_dataset(tiny_dir: Path, settings: Settings, engine: Engine) -> None:
    outcome = _ingest(tiny_dir, settings, engine)
    assert outcome.result.version == 1 and outcome.result.created_version
    assert outcome.result.inserted["people"] == 4
    assert _count(engine, Person) == 4
    assert _count(engine, RotationAssignment) == 6
    assert _count(engine, Assignment) == 2  # history rows
    with UnitOfWork(engine) as uow:
        history = uow.s.scalars(select(Assignment)).all()
        assert {a.source for a in history} == {"history"}
        program = uow.s.scalars(select(Program)).one()
        assert (program.key, program.timezone, program.current_version) == (
            "tiny-internal-medicine-residency",
            "America/New_York",
            1,
        )


def test_reingesting_an_unchanged_bundle_changes_nothing(tiny_dir: Path, settings: Settings, engine: Engine) -> None:
    _ingest(tiny_dir, settings, engine)
    audit_before = _count(engine, AuditEntry)
    # the same content saved by a spreadsheet: BOM, CRLF and padded cells
    people = tiny_dir / "people.csv"
    people.write_bytes(b"\xef\xbb\xbf" + people.read_text().replace(",", " ,").replace("\n", "\r\n").encode())
    again = _ingest(tiny_dir, settings, engine)
    assert not again.result.created_version and again.result.version == 1
    assert _count(engine, AuditEntry) == audit_before
    assert _count(engine, ProgramVersion) == 1
    assert _count(engine, Person, include_deleted=True) == 4


def test_a_changed_bundle_makes_a_new_version_with_soft_deletes_and_audit(
    tiny_dir: Path, settings: Settings, engine: Engine
) -> None:
    _ingest(tiny_dir, settings, engine)
    people = tiny_dir / "people.csv"
    people.write_text(
        people.read_text().replace(
            "R2,Resident Two,r2@example.org,resident,2", "R2,Resident Two,r2@example.org,resident,3"
        )
    )
    requests = tiny_dir / "requests.csv"
    requests.write_text("\n".join(requests.read_text().splitlines()[:-1]) + "\n")  # drop one request
    absences = tiny_dir / "absences.csv"
    absences.write_text(absences.read_text() + "R3,2027-08-10,2027-08-12,sick,true\n")

    outcome = _ingest(tiny_dir, settings, engine)
    assert outcome.result.version == 2 and outcome.result.created_version
    assert outcome.result.deleted == {**{k: 0 for k in outcome.result.deleted}, "people": 1, "requests": 1}
    assert outcome.result.inserted["people"] == 1 and outcome.result.inserted["absences"] == 1

    assert _count(engine, Person) == 4
    assert _count(engine, Person, include_deleted=True) == 5
    assert _count(engine, Request) == 2 and _count(engine, Absence) == 3
    with UnitOfWork(engine) as uow:
        old = uow.s.scalars(
            select(Person)
            .where(Person.person_id == "R2", Person.deleted_at.is_not(None))
            .execution_options(include_deleted=True)
        ).one()
        assert old.pgy == 2 and old.deleted_by == "rotaflow ingest (version 2)"
        new = uow.s.scalars(select(Person).where(Person.person_id == "R2")).one()
        assert (new.pgy, new.version) == (3, 2)
        actions = [
            (e.action, e.entity, e.entity_key)
            for e in uow.s.scalars(select(AuditEntry).where(AuditEntry.version == 2)).all()
        ]
    assert ("new_version", "programs", "tiny-internal-medicine-residency") in actions
    assert ("soft_delete", "people", "R2") in actions
    assert ("insert", "people", "R2") in actions
    assert ("soft_delete", "requests", "R2/2027-07-07/CALL24") in actions
    assert ("insert", "absences", "R3/2027-08-10/2027-08-12/sick") in actions
    assert len(actions) == 5


def test_a_rejected_bundle_writes_nothing_and_is_quarantined(
    tiny_dir: Path, settings: Settings, engine: Engine
) -> None:
    (tiny_dir / "blocks.csv").write_text("block_id,start_date,end_date\nB1,2027-07-01,soon\nB2,2027-07-29,2027-08-25\n")
    with pytest.raises(InputError) as caught:
        _ingest(tiny_dir, settings, engine)
    assert [str(p) for p in caught.value.problems] == [
        "blocks.csv, row 1, column end_date: expected a date (YYYY-MM-DD), got 'soon'"
    ]
    assert _count(engine, Program) == 0 and _count(engine, AuditEntry) == 0

    store = LocalStore(Path(settings.resolved_object_store))
    keys = store.list("quarantine")
    prefix = keys[0].split("/bundle/")[0].rsplit("/errors", 1)[0]
    expected = {f"{prefix}/bundle/{p.name}" for p in tiny_dir.iterdir()} | {
        f"{prefix}/errors.json",
        f"{prefix}/errors.csv",
    }
    assert set(keys) == expected
    assert store.get_bytes(f"{prefix}/bundle/blocks.csv") == (tiny_dir / "blocks.csv").read_bytes()
    report = json.loads(store.get_bytes(f"{prefix}/errors.json"))
    assert report["problems"] == [
        {"file": "blocks.csv", "row": 1, "column": "end_date", "expected": "a date (YYYY-MM-DD)", "got": "'soon'"}
    ]
    assert store.get_bytes(f"{prefix}/errors.csv").decode().splitlines()[0] == "file,row,column,expected,got"


def test_a_rejected_new_version_keeps_the_stored_one(tiny_dir: Path, settings: Settings, engine: Engine) -> None:
    _ingest(tiny_dir, settings, engine)
    (tiny_dir / "people.csv").write_text("person_id,name,role,pgy\nR1,A,resident,0\n")
    with pytest.raises(InputError):
        _ingest(tiny_dir, settings, engine)
    assert _count(engine, Person) == 4 and _count(engine, ProgramVersion) == 1


def test_people_with_assignments_load_without_n_plus_one(
    tmp_path: Path, tiny_dir: Path, settings: Settings, engine: Engine
) -> None:
    """Three statements whether the program has 4 people or 40."""

    def statements_for(source: Path) -> tuple[int, int]:
        outcome = _ingest(source, settings, engine)
        statements: list[str] = []

        def _count_statement(*args: object) -> None:
            statements.append(str(args[2]))

        with UnitOfWork(engine) as uow:
            program = ProgramRepository(uow.s).get(outcome.result.program_key)
            assert program is not None
            event.listen(engine, "before_cursor_execute", _count_statement)
            try:
                people = ProgramRepository(uow.s).people_with_assignments(program.id)
                touched = sum(len(p.assignments) + len(p.rotation_assignments) for p in people)
            finally:
                event.remove(engine, "before_cursor_execute", _count_statement)
        assert touched > 0
        return len(people), len(statements)

    small = statements_for(tiny_dir)
    bigger = tmp_path / "bigger"
    shutil.copytree(tiny_dir, bigger)
    (bigger / "program.yaml").write_text((bigger / "program.yaml").read_text().replace("Tiny", "Bigger"))
    people = ["person_id,name,role,pgy"] + [f"R{i},P{i},resident,1" for i in range(1, 41)] + ["F1,F,faculty,"]
    (bigger / "people.csv").write_text("\n".join(people) + "\n")
    rotations = ["person_id,block_id,rotation_id"] + [f"R{i},{b},WARD" for i in range(1, 41) for b in ("B1", "B2")]
    (bigger / "rotation_assignments.csv").write_text("\n".join(rotations) + "\n")
    large = statements_for(bigger)
    assert small == (4, 3)
    assert large == (41, 3)


def test_unit_of_work_rolls_back_unless_committed(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.s.add(Program(key="p", name="P", timezone="UTC"))
        uow.s.flush()
    with UnitOfWork(engine) as uow:
        assert uow.s.scalar(select(func.count()).select_from(Program)) == 0
        uow.s.add(Program(key="p", name="P", timezone="UTC"))
        uow.commit()
    with UnitOfWork(engine) as uow:
        assert uow.s.scalar(select(func.count()).select_from(Program)) == 1


def test_unit_of_work_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        uow.s.add(Program(key="q", name="Q", timezone="UTC"))
        uow.s.flush()
        raise RuntimeError("boom")
    assert _count(engine, Program) == 0


def test_a_bundle_with_its_rows_reordered_is_a_new_version_of_the_same_rows(
    tiny_dir: Path, settings: Settings, engine: Engine
) -> None:
    """Its hash differs (what runs under the bundle, a swap, is held to the current version's hash), so it is
    recorded as a version of its own, with every row kept as it was."""
    first = _ingest(tiny_dir, settings, engine)
    people = tiny_dir / "people.csv"
    header, *rows = people.read_text().splitlines()
    people.write_text("\n".join([header, *reversed(rows)]) + "\n")
    again = _ingest(tiny_dir, settings, engine)
    assert again.result.created_version and again.result.version == 2
    assert sum(again.result.inserted.values()) == 0 and sum(again.result.deleted.values()) == 0
    assert _count(engine, Person, include_deleted=True) == 4
    with UnitOfWork(engine) as uow:
        hashes = uow.s.scalars(select(ProgramVersion.content_hash).order_by(ProgramVersion.version)).all()
    assert len(hashes) == 2 and hashes[0] != hashes[1] and first.result.version == 1
    require_ingested(engine, load_bundle(str(tiny_dir), settings=settings), str(tiny_dir))  # accepted now
    assert not _ingest(tiny_dir, settings, engine).result.created_version


def test_history_with_instants_and_sources_reingests_unchanged(
    tiny_dir: Path, settings: Settings, engine: Engine
) -> None:
    (tiny_dir / "history.csv").write_text(
        "person_id,date,shift_id,start,end,hours,source\n"
        "R1,2027-06-29,DAY,2027-06-29T07:00:00-04:00,2027-06-29T19:00:00-04:00,12,manual\n"
        "R2,2027-06-30,CALL24,,,,\n"
    )
    first = _ingest(tiny_dir, settings, engine)
    again = _ingest(tiny_dir, settings, engine)
    assert first.result.version == 1 and not again.result.created_version
    assert _count(engine, Assignment, include_deleted=True) == 2
    with UnitOfWork(engine) as uow:
        row = uow.s.scalars(select(Assignment).where(Assignment.person_id == "R1")).one()
        start = row.start if row.start.tzinfo else row.start.replace(tzinfo=__import__("datetime").UTC)
        assert start.isoformat().startswith("2027-06-29T11:00:00")  # 07:00 at -04:00, in UTC
        assert row.source == "manual"


def test_constraint_overrides_reingest_unchanged(tiny_dir: Path, settings: Settings, engine: Engine) -> None:
    (tiny_dir / "constraints.yaml").write_text("rules:\n  - rule: acgme_weekly_hours\n    params: {limit_hours: 84}\n")
    _ingest(tiny_dir, settings, engine)
    assert not _ingest(tiny_dir, settings, engine).result.created_version
    with UnitOfWork(engine) as uow:
        version = uow.s.scalars(select(ProgramVersion)).one()
        assert version.settings["constraints"]["rules"][0]["params"] == {"limit_hours": 84}
