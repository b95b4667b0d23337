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
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


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


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file of the feed folder (the state file too): (inode, mtime in ns)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir() if p.name != ".lock"}


def _given_away(cells: frozenset[Cell], person: str, to: str) -> frozenset[Cell]:
    """``cells`` with the first shift of ``person`` that ``to`` does not work that day given to ``to``."""
    busy = {d for p, d, _ in cells if p == to}
    given = min(c for c in cells if c[0] == person and c[1] not in busy)
    return (cells - {given}) | {(to, given[1], given[2])}


def test_a_swap_rewrites_the_files_of_its_two_people_only(program: Program) -> None:
    _publish(program, "B1")
    _publish(program, "B2")
    folder = feed_dir(PROGRAM)
    before = _files(folder)
    assert set(before) == {f"{p}.ics" for p in PEOPLE} | {".state.json"}
    r1, r2 = _events(folder / "R1.ics"), _events(folder / "R2.ics")

    _publish(program, "B1", _given_away(program.blocks["B1"][1].cells, "R1", "R2"))
    after = _files(folder)
    assert {name for name in after if after[name] != before[name]} == {"R1.ics", "R2.ics"}
    assert (len(_events(folder / "R1.ics")), len(_events(folder / "R2.ics"))) == (len(r1) - 1, len(r2) + 1)
    for person in ("R1", "R2"):  # the files say what the database says
        assert {u: e["sequence"] for u, e in _events(folder / f"{person}.ics").items()} == {
            u: s for u, (s, _, _) in _live(program.engine, person).items()
        }


@SQLITE_ONLY  # files, not queries: one database is enough
def test_a_person_without_a_file_gets_one_at_the_next_publish(program: Program) -> None:
    _publish(program, "B1")
    folder = feed_dir(PROGRAM)
    (folder / "F1.ics").unlink()
    before = _files(folder)
    cells, _, _ = _moved(program.blocks["B1"][1].cells, "R1", "DAY")
    _publish(program, "B1", cells)
    after = _files(folder)
    assert {name for name in after if after.get(name) != before.get(name)} == {"F1.ics", "R1.ics"}


@SQLITE_ONLY  # files, not queries: one database is enough
def test_when_every_file_may_show_something_else_every_file_is_checked(program: Program) -> None:
    """A feed folder whose state is not the database's (never written whole, a refresh that failed half way,
    other names or places): the next publish writes the whole feed, a person gone included."""
    _publish(program, "B1")
    folder = feed_dir(PROGRAM)
    gone = folder / "R9.ics"
    gone.write_bytes((folder / "R1.ics").read_bytes())
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}) == []  # R1 unchanged, R9 not asked for
    (folder / ".state.json").write_text('{"digest": "another program"}')
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}) == [gone]
    assert _events(gone) == {}
    (folder / ".state.json").unlink()
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}) == []  # written whole: nothing was behind


@SQLITE_ONLY  # files, not queries: one database is enough
def test_a_refresh_that_fails_half_way_leaves_the_next_one_to_write_everything(
    program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.services import feed

    _publish(program, "B1")
    folder = feed_dir(PROGRAM)
    assert (folder / ".state.json").is_file()
    replace = feed._replace

    def full_disk(path: Path, data: bytes) -> bool:
        if path.name == "R2.ics":
            raise OSError(28, "No space left on device")
        return replace(path, data)

    monkeypatch.setattr(feed, "_replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        refresh_feed(program.engine, PROGRAM, people={"R1", "R2"})
    assert not (folder / ".state.json").exists()
    monkeypatch.undo()
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}) == []  # all checked: nothing was behind
    assert (folder / ".state.json").is_file()

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the database went away after the commit")

    monkeypatch.setattr(feed, "read_feed", database_gone)  # nothing written: R1's file is behind
    with pytest.raises(ConnectionError):
        refresh_feed(program.engine, PROGRAM, people={"R1"})
    assert not (folder / ".state.json").exists()


def test_blocks_that_ended_before_the_retention_are_left_out(program: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    from rotaflow.configs.settings import get_settings

    _publish(program, "B1")
    _publish(program, "B2")
    r1 = feed_dir(PROGRAM) / "R1.ics"
    blocks = {e["description"].split("block: ")[1] for e in _events(r1).values()}
    assert blocks == {"B1", "B2"}  # both ended after today - 400 days (they are ahead)
    assert get_settings().feed_retention_days == 400

    b1_end = dt.date(2027, 7, 28)
    monkeypatch.setenv("ROTAFLOW_FEED_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}, today=b1_end + dt.timedelta(days=30)) == []
    assert refresh_feed(program.engine, PROGRAM, people={"R1"}, today=b1_end + dt.timedelta(days=31))
    kept = _events(r1)
    assert kept and {e["description"].split("block: ")[1] for e in kept.values()} == {"B2"}
    assert all("block: B2" in e["description"] for e in _events(feed_dir(PROGRAM) / "R2.ics").values())
    get_settings.cache_clear()


@SQLITE_ONLY  # files, not queries: one database is enough
def test_each_file_and_its_folder_are_flushed_to_disk(program: Program, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file's content before the rename (the temporary file is the final file's inode), the folder after."""
    import os

    flushed: list[os.stat_result] = []
    fsync = os.fsync

    def recorded(fd: int) -> None:
        flushed.append(os.fstat(fd))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recorded)
    _publish(program, "B1")
    folder = feed_dir(PROGRAM)
    files = {(s.st_dev, s.st_ino) for s in flushed if stat.S_ISREG(s.st_mode)}
    assert {(p.stat().st_dev, p.stat().st_ino) for p in folder.glob("*.ics")} <= files
    assert (folder.stat().st_dev, folder.stat().st_ino) in {
        (s.st_dev, s.st_ino) for s in flushed if stat.S_ISDIR(s.st_mode)
    }


def test_publishes_committing_together_share_one_writer_and_lose_no_request(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """While one thread writes a program's feed, the others only add their people and return at once (holding
    no database connection while they wait); the writer takes what they asked in its next round, through an
    engine that takes no connection from the committing sessions' pool."""
    import threading

    from rotaflow.services import feed

    rounds: list[tuple[frozenset[str] | None, Any]] = []
    started, release = threading.Event(), threading.Event()

    def refresh(engine: Engine, program: str | int, *, people: Any = None) -> list[Path]:
        rounds.append((None if people is None else frozenset(people), engine.pool))
        if len(rounds) == 1:
            started.set()
            assert release.wait(10)
        return []

    monkeypatch.setattr(feed, "refresh_feed", refresh)
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    pending = feed._Pending()
    try:
        writer = threading.Thread(target=pending.run, args=(engine, "p", frozenset({"A"})))
        writer.start()
        assert started.wait(10)
        pending.run(engine, "p", frozenset({"B"}))  # returns at once: the writer is busy
        pending.run(engine, "p", frozenset({"C"}))
        release.set()
        writer.join(10)
        assert not writer.is_alive()
        assert [people for people, _ in rounds] == [frozenset({"A"}), frozenset({"B", "C"})]
        assert all(pool is not engine.pool for _, pool in rounds)  # never the committing sessions' pool
        pending.run(engine, "p", None)  # nobody writing: this thread writes, and None means everyone
        assert rounds[-1][0] is None and len(rounds) == 3
    finally:
        engine.dispose()
