"""Publishing a block's schedule: replacement, audit, PublishConflict and a real race on PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import Assignment, AuditEntry, ScheduleRun
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.services.generate import (
    PublishConflict,
    Published,
    load_solver_settings,
    publish_run,
    solve_block,
    unpublish_run,
)
from rotaflow.services.ingest import ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.versions import block_versions, published_version, version_pair
from rotaflow.validations.instances import block_instance, rules_for

PROGRAM = "tiny-internal-medicine-residency"


@dataclass
class Solved:
    version: int
    instance: Instance
    result: SolveResult


def _solvable(tiny_dir: Path) -> Path:
    """The tiny bundle with night cover as a soft target (as shipped, one resident cannot cover 28 nights)."""
    path = tiny_dir / "coverage.csv"
    text_ = path.read_text()
    assert "NIGHT,daily,NF,resident,,,1,1," in text_
    path.write_text(text_.replace("NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1"))
    return tiny_dir


def _prepare(url: str, tiny_dir: Path, settings: Settings) -> tuple[Engine, Solved]:
    upgrade(url)
    engine = make_engine(url)
    source = str(_solvable(tiny_dir))
    outcome = ingest_bundle(source, settings=settings, engine=engine, expectations=False)
    bundle = load_bundle(source, settings=settings)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return engine, Solved(outcome.result.version, instance, result)


@pytest.fixture
def solved(database_url: str, tiny_dir: Path, settings: Settings) -> Iterator[tuple[Engine, Solved]]:
    engine, solved = _prepare(database_url, tiny_dir, settings)
    yield engine, solved
    engine.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _publish(
    engine: Engine, solved: Solved, run_id: str, started_at: dt.datetime, actor: str = "test", **made: Any
) -> Published:
    summary = GenerateResult.start(
        run_id=run_id, program=PROGRAM, program_version=solved.version, block_id="B1", rules=[], time_limit_seconds=5
    ).solved(solved.result)
    return publish_run(
        engine,
        program_key=PROGRAM,
        version=solved.version,
        instance=solved.instance,
        result=solved.result,
        summary=summary,
        started_at=started_at,
        actor=actor,
        **made,
    )


def _assignments(engine: Engine) -> list[tuple[str | None, dt.date, bool, str | None]]:
    """(run_id, date, live, deleted_by) of every schedule assignment, soft-deleted ones included."""
    with UnitOfWork(engine) as uow:
        stmt = select(Assignment).where(Assignment.run_id.is_not(None)).execution_options(include_deleted=True)
        return [(a.run_id, a.date, a.deleted_at is None, a.deleted_by) for a in uow.s.scalars(stmt)]


def _runs(engine: Engine) -> dict[str, str]:
    with UnitOfWork(engine) as uow:
        return {r.id: r.status for r in uow.s.scalars(select(ScheduleRun))}


def _audit(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with UnitOfWork(engine) as uow:
        stmt = select(AuditEntry).where(AuditEntry.entity == "schedule_runs").order_by(AuditEntry.id)
        return [(e.action, e.entity_key, dict(e.details)) for e in uow.s.scalars(stmt)]


# --------------------------------------------------------------------------- in sequence


def test_a_second_publish_replaces_the_first(solved: tuple[Engine, Solved]) -> None:
    engine, s = solved
    cells = len(s.result.cells)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    one = _publish(engine, s, first, _now())
    assert (one.run_id, one.replaced, one.inserted) == (first, 0, cells)
    two = _publish(engine, s, second, _now())
    assert (two.run_id, two.replaced, two.inserted) == (second, cells, cells)

    rows = _assignments(engine)
    old = [r for r in rows if r[0] == first]
    new = [r for r in rows if r[0] == second]
    assert len(old) == cells and len(new) == cells
    assert not any(live for _, _, live, _ in old), "the first run's assignments were not soft-deleted"
    assert all(by is not None and second in by for _, _, _, by in old)
    assert all(live for _, _, live, _ in new)
    assert all(dt.date(2027, 7, 1) <= d <= dt.date(2027, 7, 28) for _, d, _, _ in rows)
    assert _runs(engine) == {first: "published", second: "published"}

    audit = _audit(engine)
    assert [(a, k) for a, k, _ in audit] == [("publish", first), ("publish", second)]
    assert audit[0][2] == {
        "block_id": "B1",
        "replaced": 0,
        "inserted": cells,
        "status": "published",
        "block_version": 1,
        "reason": "generate",
    }
    assert audit[1][2] == {
        "block_id": "B1",
        "replaced": cells,
        "inserted": cells,
        "status": "published",
        "block_version": 2,
        "reason": "generate",
    }

    # each publish is a numbered version; the second says it was made over the first, with nothing changed
    history = block_versions(engine, PROGRAM, "B1").versions
    assert [(v.version, v.run_id, v.status, v.based_on, v.added, v.removed) for v in history] == [
        (1, first, "published", None, cells, 0),
        (2, second, "published", 1, 0, 0),
    ]
    # unchanged events keep their calendar identity, and both versions' rows can still be read
    one_rows, two_rows = version_pair(engine, PROGRAM, "B1")
    assert (one_rows.number, two_rows.number) == (1, 2)
    assert one_rows.identities(PROGRAM) == two_rows.identities(PROGRAM)
    assert len(two_rows.rows) == cells and all(r.sequence == 0 and r.uid for r in two_rows.rows.values())


def test_a_withdrawn_publish_is_a_withdrawn_version_and_the_next_number_is_not_reused(
    solved: tuple[Engine, Solved],
) -> None:
    engine, s = solved
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    _publish(engine, s, first, _now())
    _publish(engine, s, second, _now())
    assert unpublish_run(engine, run_id=second, reason="the backup failed") == len(s.result.cells)
    current = published_version(engine, PROGRAM, "B1")
    assert current is not None and (current.number, current.run_id) == (1, first)
    made = _publish(engine, s, third, _now(), reason="repair", based_on=1, reference="absence R1")
    assert made.block_version == 3
    history = block_versions(engine, PROGRAM, "B1")
    assert [(v.version, v.status, v.reason, v.based_on) for v in history.versions] == [
        (1, "published", "generate", None),
        (2, "withdrawn", "generate", 1),
        (3, "published", "repair", 1),
    ]
    assert history.current is not None and history.current.reference == "absence R1"


def test_a_repair_made_from_an_older_version_is_refused(solved: tuple[Engine, Solved]) -> None:
    engine, s = solved
    _publish(engine, s, str(uuid.uuid4()), _now())
    _publish(engine, s, str(uuid.uuid4()), _now(), reason="repair", based_on=1)
    late = str(uuid.uuid4())
    with pytest.raises(PublishConflict) as info:
        _publish(engine, s, late, _now(), reason="repair", based_on=1)
    assert "block B1 is at version 2 now, and this schedule was made from version 1" in str(info.value)
    assert late not in _runs(engine)


def test_a_run_started_before_the_latest_publish_is_refused(solved: tuple[Engine, Solved]) -> None:
    engine, s = solved
    late, early = str(uuid.uuid4()), str(uuid.uuid4())
    early_started = _now()
    time.sleep(0.01)
    _publish(engine, s, late, _now())  # another run started later but published first

    with pytest.raises(PublishConflict) as info:
        _publish(engine, s, early, early_started)
    message = str(info.value)
    assert "block B1 was published by run" in message and late in message
    assert "this run's schedule was not published" in message
    assert info.value.exit_code == 3

    # nothing of the refused run was written
    assert _runs(engine) == {late: "published"}
    rows = _assignments(engine)
    assert {r[0] for r in rows} == {late} and all(live for _, _, live, _ in rows)
    assert [k for _, k, _ in _audit(engine)] == [late]

    # started after that publish, it goes through
    again = _publish(engine, s, str(uuid.uuid4()), _now())
    assert again.replaced == len(s.result.cells)


def test_a_block_whose_history_changed_while_it_was_solved_is_refused(
    solved: tuple[Engine, Solved], tiny_dir: Path, settings: Settings
) -> None:
    """B2's rules read B1's last days as history: a B2 run that started before B1 got a new version (a swap, a
    repair) was solved on the old days and is refused; one started afterwards goes through."""
    engine, s = solved
    bundle = load_bundle(str(tiny_dir), settings=settings)
    b2 = block_instance(bundle, "B2")
    empty = SolveResult("feasible", 0.0, 0.0, 0.0, frozenset({("R2", 0, "DAY")}))

    def publish_b2(started_at: dt.datetime) -> Published:
        summary = GenerateResult.start(
            run_id=str(uuid.uuid4()),
            program=PROGRAM,
            program_version=s.version,
            block_id="B2",
            rules=[],
            time_limit_seconds=5,
        ).solved(empty)
        return publish_run(
            engine,
            program_key=PROGRAM,
            version=s.version,
            instance=b2,
            result=empty,
            summary=summary,
            started_at=started_at,
        )

    b2_started = _now()
    time.sleep(0.01)
    _publish(engine, s, str(uuid.uuid4()), _now())  # B1 published while B2 was solving
    with pytest.raises(PublishConflict, match="block B1, whose days this block's rules read as history, got version 1"):
        publish_b2(b2_started)
    assert set(_runs(engine).values()) == {"published"} and len(_runs(engine)) == 1
    assert publish_b2(_now()).block_version == 1


# --------------------------------------------------------------------------- a real race


def test_two_concurrent_publishes_for_one_block_on_postgresql(
    postgres_url: str, tiny_dir: Path, settings: Settings
) -> None:
    engine, s = _prepare(postgres_url, tiny_dir, settings)
    engine.dispose()
    barrier = threading.Barrier(2, timeout=20)
    started_at = _now()  # both runs started before either publishes
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    outcomes: dict[str, Any] = {}
    locked: dict[str, float] = {}

    def contender(run_id: str) -> None:
        own = make_engine(postgres_url)  # its own engine, pool and connection

        @event.listens_for(own, "before_cursor_execute")
        def _meet(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FOR UPDATE" in statement:
                barrier.wait()  # both reach the locked SELECT together

        @event.listens_for(own, "after_cursor_execute")
        def _hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FOR UPDATE" in statement:
                locked[run_id] = time.monotonic()
                time.sleep(0.5)  # hold the row lock so the other one visibly waits for it

        try:
            outcomes[run_id] = _publish(own, s, run_id, started_at, actor=f"contender {run_id[:8]}")
        except Exception as exc:  # noqa: BLE001 - the assertions below look at it
            outcomes[run_id] = exc
        finally:
            own.dispose()

    monitor = make_engine(postgres_url)
    threads = [threading.Thread(target=contender, args=(run_id,), name=f"publish-{i}") for i, run_id in enumerate(ids)]
    for thread in threads:
        thread.start()
    waiting = 0
    with monitor.connect() as conn:
        while any(t.is_alive() for t in threads):
            waiting = max(
                waiting,
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one(),
            )
            conn.rollback()
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    monitor.dispose()

    assert waiting >= 1, "neither publish ever waited for the block's row lock"
    won = [run_id for run_id, o in outcomes.items() if isinstance(o, Published)]
    lost = [run_id for run_id, o in outcomes.items() if isinstance(o, PublishConflict)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    winner, loser = won[0], lost[0]
    assert locked[loser] >= locked[winner] + 0.4, "the loser got the lock while the winner still held it"
    message = str(outcomes[loser])
    assert f"block B1 was published by run {winner}" in message
    assert "while this run was solving; this run's schedule was not published" in message

    check = make_engine(postgres_url)
    try:
        assert _runs(check) == {winner: "published"}
        rows = _assignments(check)
        assert {r[0] for r in rows} == {winner}
        assert len(rows) == len(s.result.cells) and all(live for _, _, live, _ in rows)
        assert [(a, k) for a, k, _ in _audit(check)] == [("publish", winner)]
    finally:
        check.dispose()


def test_two_concurrent_publishes_for_one_block_on_sqlite(sqlite_url: str, tiny_dir: Path, settings: Settings) -> None:
    engine, s = _prepare(sqlite_url, tiny_dir, settings)
    engine.dispose()
    checked = threading.Barrier(2, timeout=3)
    started_at = _now()
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    outcomes: dict[str, Any] = {}

    def contender(run_id: str) -> None:
        own = make_engine(sqlite_url)

        @event.listens_for(own, "before_cursor_execute")
        def _meet(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO SCHEDULE_RUNS"):
                # both have looked for a newer publish; a working lock makes one wait earlier
                with contextlib.suppress(threading.BrokenBarrierError):
                    checked.wait()

        try:
            outcomes[run_id] = _publish(own, s, run_id, started_at)
        except Exception as exc:  # noqa: BLE001 - the assertions below look at it
            outcomes[run_id] = exc
        finally:
            own.dispose()

    threads = [threading.Thread(target=contender, args=(run_id,)) for run_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    kinds = sorted(type(o).__name__ for o in outcomes.values())
    assert kinds == ["PublishConflict", "Published"], outcomes
    check = make_engine(sqlite_url)
    try:
        assert list(_runs(check).values()) == ["published"]
    finally:
        check.dispose()


def test_two_concurrent_repairs_of_one_version_on_postgresql(
    postgres_url: str, tiny_dir: Path, settings: Settings
) -> None:
    """Two repairs made from version 1 publish at once: one becomes version 2, the other is told to run again."""
    engine, s = _prepare(postgres_url, tiny_dir, settings)
    first = str(uuid.uuid4())
    _publish(engine, s, first, _now())
    engine.dispose()
    barrier = threading.Barrier(2, timeout=20)
    ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    outcomes: dict[str, Any] = {}
    locked: dict[str, float] = {}

    def contender(run_id: str) -> None:
        own = make_engine(postgres_url)

        @event.listens_for(own, "before_cursor_execute")
        def _meet(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FOR UPDATE" in statement:
                barrier.wait()  # both repairs reach the block's row lock together

        @event.listens_for(own, "after_cursor_execute")
        def _hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "FOR UPDATE" in statement:
                locked[run_id] = time.monotonic()
                time.sleep(0.5)

        try:
            outcomes[run_id] = _publish(
                own, s, run_id, _now(), actor="rotaflow repair", reason="repair", based_on=1, reference="absence R1"
            )
        except Exception as exc:  # noqa: BLE001 - the assertions below look at it
            outcomes[run_id] = exc
        finally:
            own.dispose()

    monitor = make_engine(postgres_url)
    threads = [threading.Thread(target=contender, args=(run_id,), name=f"repair-{i}") for i, run_id in enumerate(ids)]
    for thread in threads:
        thread.start()
    waiting = 0
    with monitor.connect() as conn:
        while any(t.is_alive() for t in threads):
            waiting = max(
                waiting,
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one(),
            )
            conn.rollback()
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    monitor.dispose()

    assert waiting >= 1, "neither repair ever waited for the block's row lock"
    won = [run_id for run_id, o in outcomes.items() if isinstance(o, Published)]
    lost = [run_id for run_id, o in outcomes.items() if isinstance(o, PublishConflict)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    winner, loser = won[0], lost[0]
    assert outcomes[winner].block_version == 2
    assert locked[loser] >= locked[winner] + 0.4, "the loser got the lock while the winner still held it"
    assert str(outcomes[loser]) == (
        "block B1 is at version 2 now, and this schedule was made from version 1: nothing was published; "
        "run it again on the block's current version"
    )
    assert outcomes[loser].exit_code == 3

    check = make_engine(postgres_url)
    try:
        # nothing lost: version 1 still readable, version 2 (the winner's) live, nothing of the loser
        history = block_versions(check, PROGRAM, "B1").versions
        assert [(v.version, v.run_id, v.status, v.reason, v.based_on) for v in history] == [
            (1, first, "published", "generate", None),
            (2, winner, "published", "repair", 1),
        ]
        one, two = version_pair(check, PROGRAM, "B1", 1, 2)
        cells = {(p, s.instance.date(d), shift) for p, d, shift in s.result.cells}
        assert set(one.rows) == set(two.rows) == cells
        current = published_version(check, PROGRAM, "B1")
        assert current is not None and (current.number, current.run_id) == (2, winner)
        assert two.identities(PROGRAM) == one.identities(PROGRAM)
        rows = _assignments(check)
        assert {r[0] for r in rows} == {first, winner}
        assert all(live for run_id, _, live, _ in rows if run_id == winner)
        assert not any(live for run_id, _, live, _ in rows if run_id == first)
        assert _runs(check) == {first: "published", winner: "published"}
        assert [(a, k) for a, k, _ in _audit(check)] == [("publish", first), ("publish", winner)]
    finally:
        check.dispose()


def test_a_schedule_made_for_another_version_number_is_refused(solved: tuple[Engine, Solved]) -> None:
    """Its calendars carry the UIDs of the number it expected: a publish and a withdrawal in between refuse it."""
    engine, s = solved
    s.instance.meta["next_version"] = 2
    try:
        with pytest.raises(PublishConflict) as info:
            _publish(engine, s, str(uuid.uuid4()), _now())
        assert "it would be version 1, not 2" in str(info.value)
        assert _runs(engine) == {}
        s.instance.meta["next_version"] = 1
        assert _publish(engine, s, str(uuid.uuid4()), _now()).block_version == 1
    finally:
        del s.instance.meta["next_version"]
