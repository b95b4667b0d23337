"""The subscription feed on real publishes: var/calendars/<program>/<person>.ics follows the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import Engine, select

from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import Assignment
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.services.feed import feed_dir, refresh_feed
from rotaflow.services.generate import Published, load_solver_settings, publish_run, solve_block, unpublish_run
from rotaflow.services.ingest import ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.validations.instances import block_instance, rules_for

PROGRAM = "tiny-internal-medicine-residency"
PEOPLE = ["F1", "R1", "R2", "R3"]


@dataclasses.dataclass
class Program:
    engine: Engine
    version: int
    blocks: dict[str, tuple[Instance, SolveResult]]


def _add_column(path: Path, places: dict[str, str]) -> None:
    header, *rows = path.read_text().splitlines()
    lines = [f"{header},location"] + [
        f'{r},"{places[r.split(",")[0]]}"' if r.split(",")[0] in places else f"{r}," for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def program(database_url: str, tiny_dir: Path, settings: Settings) -> Iterator[Program]:
    """The tiny bundle (night cover a soft target, so it solves) with a place for the night shift and the ward,
    ingested, and its two blocks solved."""
    coverage = tiny_dir / "coverage.csv"
    coverage.write_text(
        coverage.read_text().replace("NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1")
    )
    _add_column(tiny_dir / "shifts.csv", {"NIGHT": "Main hospital, 4th floor"})
    _add_column(tiny_dir / "rotations.csv", {"WARD": "West wing"})
    upgrade(database_url)
    engine = make_engine(database_url)
    outcome = ingest_bundle(str(tiny_dir), settings=settings, engine=engine, expectations=False)
    bundle = load_bundle(str(tiny_dir), settings=settings)
    b1 = block_instance(bundle, "B1")
    result = solve_block(b1, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.cells
    # B2 as hand-made: B1's shifts on B2's days (publishing checks nothing more)
    blocks = {"B1": (b1, result), "B2": (block_instance(bundle, "B2"), result)}
    yield Program(engine, outcome.result.version, blocks)
    engine.dispose()


def _publish(p: Program, block_id: str, cells: frozenset[Cell] | None = None) -> Published:
    instance, result = p.blocks[block_id]
    if cells is not None:
        result = dataclasses.replace(result, cells=cells)
    summary = GenerateResult.start(
        run_id=str(uuid.uuid4()),
        program=PROGRAM,
        program_version=p.version,
        block_id=block_id,
        rules=[],
        time_limit_seconds=5,
    ).solved(result)
    return publish_run(
        p.engine,
        program_key=PROGRAM,
        version=p.version,
        instance=instance,
        result=result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
    )


def _events(path: Path) -> dict[str, dict[str, Any]]:
    """A feed file's events by UID."""
    found = {}
    for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
        found[str(event["uid"])] = {
            "sequence": int(event["sequence"]),
            "start": event.decoded("dtstart"),
            "summary": str(event["summary"]),
            "location": str(event.get("location") or ""),
            "description": str(event["description"]),
        }
    return found


def _live(engine: Engine, person: str) -> dict[str, tuple[int, dt.date, str]]:
    """The person's live published rows in the database: UID → (sequence, date, shift)."""
    with UnitOfWork(engine) as uow:
        rows = uow.s.scalars(select(Assignment).where(Assignment.person_id == person, Assignment.run_id.is_not(None)))
        return {str(a.uid): (a.sequence, a.date, a.shift_id) for a in rows}


def _moved(cells: frozenset[Cell], person: str, shift: str) -> tuple[frozenset[Cell], Cell, Cell]:
    """``cells`` with the person's first ``shift`` moved to the first day they work nothing."""
    was = min(c for c in cells if c[0] == person and c[2] == shift)
    busy = {d for p, d, _ in cells if p == person}
    now = (person, min(d for d in range(28) if d not in busy), shift)
    return (cells - {was}) | {now}, was, now


def test_the_feed_follows_every_publish_of_every_block(program: Program, settings: Settings) -> None:
    folder = feed_dir(PROGRAM)
    assert folder == settings.var_dir / "calendars" / PROGRAM and not folder.exists()

    solved = frozenset(c for c in program.blocks["B1"][1].cells if c[0] != "F1")  # F1 works none of B1
    one = _publish(program, "B1", solved)
    assert one.block_version == 1
    assert sorted(p.name for p in folder.glob("*.ics")) == [f"{p}.ics" for p in PEOPLE]  # F1 too, without shifts
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert _events(folder / "F1.ics") == {}
    r1 = folder / "R1.ics"
    first = _events(r1)
    assert {uid: e["sequence"] for uid, e in first.items()} == {
        uid: s for uid, (s, _, _) in _live(program.engine, "R1").items()
    }
    calendar = Calendar.from_ical(r1.read_bytes())
    assert str(calendar["x-wr-calname"]) == "Resident One — Tiny Internal Medicine Residency"
    titles = {e["summary"] for e in first.values()}
    assert titles <= {"Day ward — Ward", "24-hour call — Ward", "Home call — Ward", "Night float"}, titles
    for event in first.values():  # the shift's place first, else the rotation's (R1 is on the ward in B1)
        night = "shift: NIGHT" in event["description"]
        assert event["location"] == ("Main hospital, 4th floor" if night else "West wing")
        assert "block: B1" in event["description"]

    # a second version of B1 moves one of R1's day shifts: same file, same UID, SEQUENCE + 1, the new day
    cells, was, now = _moved(solved, "R1", "DAY")
    assert _publish(program, "B1", cells).block_version == 2
    second = _events(r1)
    changed = {uid for uid in second if second[uid] != first.get(uid)}
    assert len(changed) == 1 and set(second) == set(first)
    (uid,) = changed
    assert second[uid]["sequence"] == first[uid]["sequence"] + 1 == 1
    assert second[uid]["start"].date() == dt.date(2027, 7, 1) + dt.timedelta(days=now[1])
    assert first[uid]["start"].date() == dt.date(2027, 7, 1) + dt.timedelta(days=was[1])

    # publishing B2 keeps B1's events in the feed
    _publish(program, "B2")
    third = _events(r1)
    assert set(second) < set(third)
    assert {uid: third[uid] for uid in second} == second
    b2 = [e for e in third.values() if "block: B2" in e["description"]]
    assert b2 and all(e["summary"].endswith("Night float") for e in b2)  # R1 is on night float in B2
    assert all(e["location"] == ("Main hospital, 4th floor" if "shift: NIGHT" in e["description"] else "") for e in b2)
    assert {u: e["sequence"] for u, e in third.items()} == {
        u: s for u, (s, _, _) in _live(program.engine, "R1").items()
    }

    # a withdrawn publish leaves the feed as the database is again
    assert unpublish_run(program.engine, run_id=_last_run(program.engine, "B2"), reason="test") == 0
    assert _events(r1) == second


def _last_run(engine: Engine, block_id: str) -> str:
    from rotaflow.services.versions import published_version

    current = published_version(engine, PROGRAM, block_id)
    assert current is not None
    return current.run_id


def test_a_run_that_publishes_nothing_writes_no_feed(program: Program) -> None:
    _publish(program, "B1", frozenset())  # no schedule: recorded, not published
    assert not feed_dir(PROGRAM).exists()


def test_the_feed_is_rewritten_only_where_it_changed_and_a_person_gone_is_emptied(program: Program) -> None:
    _publish(program, "B1")
    folder = feed_dir(PROGRAM)
    gone = folder / "R9.ics"  # a person the program no longer has
    gone.write_bytes((folder / "R1.ics").read_bytes())
    assert refresh_feed(program.engine, PROGRAM) == [gone]  # nothing else changed: left as it was
    assert _events(gone) == {}
    assert refresh_feed(program.engine, "no-such-program") == []
    assert refresh_feed(program.engine, 10_000) == []


def test_a_feed_that_cannot_be_written_does_not_undo_the_publish(
    program: Program, caplog: pytest.LogCaptureFixture
) -> None:
    folder = feed_dir(PROGRAM)
    folder.parent.mkdir(parents=True)
    folder.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="rotaflow.services.feed"):
        made = _publish(program, "B1")
    assert made.block_version == 1 and _live(program.engine, "R1")
    assert [r.getMessage() for r in caplog.records] == [
        f"the calendar feed of program {PROGRAM} was not rewritten: {folder}"
    ]


def test_a_publish_inside_a_transaction_writes_the_feed_once_it_commits_and_never_when_rolled_back(
    program: Program,
) -> None:
    """What a swap does: publish_cells inside its own transaction."""
    from rotaflow.db.models import ScheduleRun, utcnow
    from rotaflow.db.repositories import ScheduleRepository
    from rotaflow.services.generate import publish_cells

    instance, result = program.blocks["B1"]

    def publish(commit: bool) -> None:
        with UnitOfWork(program.engine) as uow:
            runs = ScheduleRepository(uow.s)
            found = runs.program(PROGRAM)
            block = runs.lock_block(found.id, "B1", write_lock=True)
            run_id = str(uuid.uuid4())
            uow.s.add(
                ScheduleRun(
                    id=run_id,
                    program_id=found.id,
                    version=program.version,
                    block_id="B1",
                    status="published",
                    summary={},
                    finished_at=utcnow(),
                )
            )
            uow.s.flush()
            publish_cells(
                uow.s,
                program_key=PROGRAM,
                program_id=found.id,
                block=block,
                instance=instance,
                cells=result.cells,
                run_id=run_id,
                program_version=program.version,
                actor="test",
                reason="swap",
                note=None,
                reference=None,
                current=None,
            )
            assert not feed_dir(PROGRAM).exists()  # not before the commit
            if commit:
                uow.commit()

    publish(commit=False)
    assert not feed_dir(PROGRAM).exists()
    publish(commit=True)
    assert set(_events(feed_dir(PROGRAM) / "R1.ics")) == set(_live(program.engine, "R1"))
