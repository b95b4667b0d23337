"""The repositories' reads that no service test pins down on its own: bounds, order and the programs they keep apart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from rotaflow.db.migrate import upgrade
from rotaflow.db.models import (
    Assignment,
    Block,
    Program,
    ProgramVersion,
    ScheduleRun,
    SwapRequest,
    YearPlan,
    utcnow,
)
from rotaflow.db.repositories import ProgramRepository, ScheduleRepository, SwapRequestRepository, YearPlanRepository
from rotaflow.db.session import Engine, UnitOfWork, make_engine, unpooled_engine

DAY = dt.date(2026, 7, 1)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _programs(uow: UnitOfWork, *keys: str) -> list[Program]:
    programs = [Program(key=key, name=key, timezone="UTC", current_version=1) for key in keys]
    uow.s.add_all(programs)
    uow.s.flush()
    return programs


def test_year_plans_are_numbered_per_program_and_the_current_one_is_the_highest_published(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        p, q = _programs(uow, "P", "Q")
        plans = YearPlanRepository(uow.s)
        assert plans.next_number(p.id) == 1 and plans.current("P") is None
        first = YearPlan(
            program_id=p.id, number=1, program_version=1, status="published", solve_status="optimal", actor="t"
        )
        uow.s.add(first)
        uow.s.flush()
        assert plans.next_number(p.id) == 2 and plans.next_number(q.id) == 1
        assert plans.current("P") is first and plans.current("Q") is None
        plans.supersede(q.id)  # another program's plans are left alone
        uow.s.refresh(first)
        assert first.status == "published"
        plans.supersede(p.id)
        uow.s.refresh(first)
        assert first.status == "superseded" and plans.current("P") is None
        second = YearPlan(
            program_id=p.id, number=2, program_version=1, status="published", solve_status="optimal", actor="t"
        )
        uow.s.add(second)
        uow.s.flush()
        assert plans.current("P") is second and plans.next_number(p.id) == 3


def test_a_programs_swap_requests_come_oldest_first_and_by_state(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        p, q = _programs(uow, "P", "Q")

        def request(program: Program, state: str) -> SwapRequest:
            row = SwapRequest(
                program_id=program.id,
                block_id="B1",
                kind="giveaway",
                state=state,
                person_id="R1",
                date=DAY,
                shift_id="DAY",
            )
            uow.s.add(row)
            uow.s.flush()
            return row

        made = [request(p, "requested"), request(q, "requested"), request(p, "executed"), request(p, "accepted")]
        requests = SwapRequestRepository(uow.s)
        assert [r.id for r in requests.of_program(p.id)] == [made[0].id, made[2].id, made[3].id]
        assert [r.id for r in requests.of_program(p.id, state="executed")] == [made[2].id]
        assert {r.id for r in requests.in_states(p.id, ("requested", "accepted"))} == {made[0].id, made[3].id}
        assert requests.lock(made[1].id) is made[1]
        assert requests.lock(made[-1].id + 1) is None


def test_published_cells_are_the_live_published_rows_of_the_days_from_first_to_last(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        (p,) = _programs(uow, "P")
        uow.s.add(ScheduleRun(id="run-1", program_id=p.id, version=1, block_id="B1", status="published"))
        uow.s.flush()

        def row(day: int, *, run: str | None = "run-1", person: str = "R1", deleted: bool = False) -> None:
            uow.s.add(
                Assignment(
                    program_id=p.id,
                    version=1,
                    run_id=run,
                    person_id=person,
                    date=DAY + dt.timedelta(days=day),
                    shift_id="DAY",
                    hours=12.0,
                    rotation_id=None,
                    source="solver" if run else "history",
                    deleted_at=utcnow() if deleted else None,
                )
            )

        for day in (-1, 0, 3, 4):
            row(day)
        row(1, run=None)  # history.csv's row: no run published it
        row(2, person="R2", deleted=True)  # replaced by a later version
        uow.s.flush()
        schedules = ScheduleRepository(uow.s)
        first, last = DAY, DAY + dt.timedelta(days=3)
        assert sorted(schedules.published_cells(p.id, first, last)) == [
            ("R1", DAY, "DAY"),
            ("R1", DAY + dt.timedelta(days=3), "DAY"),
        ]
        assert schedules.published_cells(p.id + 1, first, last) == []
        schedules.lock_published_cells(p.id, "run-1", [])  # no cells: nothing to lock, no error


def test_blocks_are_found_by_id_and_those_ended_before_a_day_in_id_order(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        (p,) = _programs(uow, "P")
        for block_id, start in (("B2", 28), ("B1", 0), ("B3", 56)):
            first = DAY + dt.timedelta(days=start)
            uow.s.add(
                Block(
                    program_id=p.id,
                    version=1,
                    block_id=block_id,
                    start_date=first,
                    end_date=first + dt.timedelta(days=27),
                )
            )
        uow.s.flush()
        schedules = ScheduleRepository(uow.s)
        assert schedules.blocks_ended_before(p.id, DAY + dt.timedelta(days=56)) == ("B1", "B2")
        assert schedules.blocks_ended_before(p.id, DAY) == ()
        found = schedules.block(p.id, "B2", lock=True)
        assert found is not None and found.start_date == DAY + dt.timedelta(days=28)
        assert schedules.block(p.id, "B9") is None


def test_a_programs_version_and_the_source_of_its_latest(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        (p,) = _programs(uow, "P")
        programs = ProgramRepository(uow.s)
        assert programs.latest_source(p.id) is None and programs.version(p.id, 1) is None
        for number in (2, 1):
            uow.s.add(
                ProgramVersion(program_id=p.id, version=number, content_hash=f"h{number}", source=f"/bundles/{number}")
            )
        uow.s.flush()
        assert programs.latest_source(p.id) == "/bundles/2"
        found = programs.version(p.id, 1)
        assert found is not None and found.content_hash == "h1"


def test_sqlite_keeps_its_own_engine_for_reads_outside_the_pool(engine: Engine) -> None:
    assert unpooled_engine(engine) is engine  # an in-memory database exists only on its own connection
