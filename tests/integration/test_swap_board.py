"""The swap board on SQLite and PostgreSQL: each kind of swap executes and validates clean, illegal ones are
refused with their rule, undo restores the previous version, and 50 parallel executions on PostgreSQL neither
double-book nor lose an update.

The block's first version is a hand-made schedule (checked clean below), not a solve: a solve's schedule varies
from run to run, and these tests need to know which swaps are legal. R1 works the ward's DAY on the block's even
days, R2 on its odd days (one resident a day, as coverage asks), R3 nights on odd days, F1 every weekday; the
bundle's history puts R2 on a 24-hour call the day before the block, so R2 cannot take R1's first day. Night
cover is made a soft target, as in test_publish.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

import rotaflow.services.swap_board as swap_board
from rotaflow.configs.settings import Settings, get_settings
from rotaflow.constraints.instance import Cell, Schedule
from rotaflow.constraints.model import check_schedule
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.migrate import upgrade
from rotaflow.db.models import Assignment, AuditEntry
from rotaflow.db.session import UnitOfWork, make_engine
from rotaflow.errors import InputError
from rotaflow.services.generate import publish_run
from rotaflow.services.ingest import ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.swap_board import (
    SwapRefused,
    accept_swap,
    approve_swap,
    cancel_swap,
    get_swap,
    list_swaps,
    program_of,
    reject_swap,
    request_swap,
    undo_swap,
)
from rotaflow.services.swaps import SwapSpec, swapped
from rotaflow.services.versions import Row, block_versions, published_version
from rotaflow.validations.bundle import Bundle, SwapSettings
from rotaflow.validations.instances import block_instance, rules_for

PROGRAM = "tiny-internal-medicine-residency"
START = dt.date(2027, 7, 1)
BEFORE = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)
"""An instant before the block: every request is for a day still ahead."""


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The board's own clock (``list_swaps`` reads it to expire requests) at ``BEFORE``, whatever the real date."""
    monkeypatch.setattr(swap_board, "utcnow", lambda: BEFORE)


def day(index: int) -> dt.date:
    return START + dt.timedelta(days=index)


def owner(index: int) -> str:
    return "R1" if index % 2 == 0 else "R2"


def other(person: str) -> str:
    return "R2" if person == "R1" else "R1"


def hand_made() -> set[Row]:
    rows: set[Row] = set()
    for d in range(28):
        rows.add((owner(d), day(d), "DAY"))
        if d % 2 == 1:
            rows.add(("R3", day(d), "NIGHT"))
        if day(d).weekday() < 5:
            rows.add(("F1", day(d), "DAY"))
    return rows


@dataclasses.dataclass
class Board:
    engine: Engine
    url: str
    source: str
    bundle: Bundle
    version: int
    """The program's version (ingest)."""

    def with_approval(self, approval: str, undo_hours: float = 24) -> Bundle:
        swaps = SwapSettings(approval=approval, undo_hours=undo_hours)  # type: ignore[arg-type]
        return dataclasses.replace(self.bundle, program=self.bundle.program.model_copy(update={"swaps": swaps}))

    def cells(self) -> set[Row]:
        published = published_version(self.engine, PROGRAM, "B1")
        assert published is not None
        return published.cells

    def publish(
        self, rows: set[Row], reason: str = "generate", based_on: int | None = None, block_id: str = "B1"
    ) -> int:
        """``rows`` as the block's next version (made from version ``based_on``), through the ordinary publish."""
        instance = block_instance(self.bundle, block_id)
        cells: frozenset[Cell] = frozenset((p, instance.day_index(d), s) for p, d, s in rows)
        result = SolveResult("feasible", 0.0, 0.0, 0.0, cells)
        run_id = str(uuid.uuid4())
        summary = GenerateResult.start(
            run_id=run_id,
            program=PROGRAM,
            program_version=self.version,
            block_id=block_id,
            rules=[],
            time_limit_seconds=1,
        ).solved(result)
        made_from: dict[str, Any] = {} if based_on is None else {"based_on": based_on}  # default: a generation's check
        published = publish_run(
            self.engine,
            program_key=PROGRAM,
            version=self.version,
            instance=instance,
            result=result,
            summary=summary,
            started_at=dt.datetime.now(dt.UTC),
            reason=reason,
            **made_from,
        )
        assert published.block_version is not None
        return published.block_version


def _hard(bundle: Bundle, rows: set[Row]) -> list[str]:
    """The hard violations of ``rows`` as the block's schedule (history included)."""
    instance = block_instance(bundle, "B1")
    cells = {(p, (d - START).days, s) for p, d, s in rows}
    found = check_schedule(Schedule.of(instance, cells), rules_for(bundle))
    return [f"{v.rule} {v.person} {v.first_day}" for v in found if v.severity == "violation"]


def _board(url: str, tiny_dir: Path, settings: Settings, migrated: Path | None = None) -> Board:
    """The tiny program ingested and its block B1 published (version 1: the hand-made schedule); ``migrated``: an
    empty SQLite database already migrated, copied to a SQLite ``url`` (migrating takes a second or so)."""
    coverage = tiny_dir / "coverage.csv"  # night cover a soft target (R3 works every other night)
    assert "NIGHT,daily,NF,resident,,,1,1," in coverage.read_text()
    coverage.write_text(
        coverage.read_text().replace("NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1")
    )
    if migrated is not None and url.startswith("sqlite:///"):
        shutil.copyfile(migrated, url.removeprefix("sqlite:///"))
    else:
        upgrade(url)
    engine = make_engine(url)
    source = str(tiny_dir)
    outcome = ingest_bundle(source, settings=settings, engine=engine, expectations=False)
    board = Board(engine, url, source, load_bundle(source, settings=settings), outcome.result.version)
    assert _hard(board.bundle, hand_made()) == [], "the hand-made first version is not clean"
    assert board.publish(hand_made()) == 1
    return board


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("swap-board") / "migrated.db"
    upgrade(f"sqlite:///{path.as_posix()}")
    return path


@pytest.fixture
def board(database_url: str, tiny_dir: Path, settings: Settings, migrated: Path) -> Iterator[Board]:
    made = _board(database_url, tiny_dir, settings, migrated)
    yield made
    made.engine.dispose()


def _current(board: Board) -> tuple[int, str, str | None]:
    info = block_versions(board.engine, PROGRAM, "B1").current
    assert info is not None
    return info.version, info.reason, info.reference


# --------------------------------------------------------------------------- each kind


def test_a_giveaway_accepted_by_its_partner_executes_at_once_and_is_listed(board: Board) -> None:
    bundle = board.with_approval("none")
    spec = SwapSpec("R1", day(4), "DAY", with_person_id="R2")
    filed = request_swap(board.engine, bundle, spec, note="family event", now=BEFORE)
    assert (filed.kind, filed.state, filed.version, filed.block_id) == ("giveaway", "requested", None, "B1")

    with pytest.raises(InputError, match="--by"):  # only the named partner accepts
        accept_swap(board.engine, bundle, filed.id, "R3", now=BEFORE)
    done = accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)

    assert (done.state, done.version, done.accepted_by) == ("executed", 2, "R2")
    assert _current(board) == (2, "swap", f"swap {filed.id}")
    after = board.cells()
    assert after == (hand_made() - {("R1", day(4), "DAY")}) | {("R2", day(4), "DAY")}
    assert _hard(bundle, after) == []
    stored = published_version(board.engine, PROGRAM, "B1")
    assert stored is not None and stored.rows[("R2", day(4), "DAY")].source == "manual"  # placed by hand
    assert {r.source for cell, r in stored.rows.items() if cell != ("R2", day(4), "DAY")} <= {"solver", "pinned"}
    folder = Path(str(done.out_dir))
    assert (folder / "changes.csv").read_text().splitlines()[1:] == [
        f"removed,R1,{day(4)},DAY,1,2,swap,swap {filed.id}",
        f"added,R2,{day(4)},DAY,1,2,swap,swap {filed.id}",
    ]
    assert (folder / "changes.html").is_file()
    assert sorted(p.name for p in (folder / "calendars").iterdir()) == ["R1.ics", "R2.ics"]
    assert "STATUS:CANCELLED" in (folder / "calendars" / "R1.ics").read_text()
    with UnitOfWork(board.engine) as uow:
        entries = uow.s.scalars(select(AuditEntry).where(AuditEntry.action == "swap_execute")).all()
        assert [(e.entity_key, e.version, e.details["from_version"]) for e in entries] == [(str(filed.id), 2, 1)]

    offer = request_swap(board.engine, bundle, SwapSpec("R2", day(13), "DAY"), now=BEFORE)
    views = list_swaps(board.engine, PROGRAM)
    assert [(v.id, v.state) for v in views] == [(filed.id, "executed"), (offer.id, "requested")]
    assert [v.id for v in list_swaps(board.engine, PROGRAM, state="requested")] == [offer.id]
    assert list_swaps(board.engine, "no-such-program") == []
    with pytest.raises(InputError, match="--status"):
        list_swaps(board.engine, PROGRAM, state="pending")
    item = get_swap(board.engine, filed.id).as_dict()
    assert list(item) == [
        "id",
        "kind",
        "state",
        "person_id",
        "date",
        "shift_id",
        "with_person_id",
        "take_date",
        "take_shift_id",
        "created_at",
        "executed_at",
        "version",
        "reason",
        "block_id",
        "accepted_by",
        "note",
        "undo_version",
        "out_dir",
    ]
    assert (item["date"], item["version"], item["take_date"], item["note"]) == (
        day(4).isoformat(),
        2,
        None,
        "family event",
    )
    assert dt.datetime.fromisoformat(item["created_at"]) == dt.datetime.fromisoformat(item["executed_at"]) == BEFORE
    with pytest.raises(InputError, match="the id of a swap request"):
        get_swap(board.engine, 999)
    assert program_of(board.engine, offer.id) == (PROGRAM, board.source)


def test_a_trade_waits_for_the_coordinator_who_approves_rejects_or_lets_it_expire(board: Board) -> None:
    bundle = board.with_approval("coordinator")
    spec = SwapSpec("R1", day(2), "DAY", with_person_id="R2", take_date=day(5), take_shift_id="DAY")
    filed = request_swap(board.engine, bundle, spec, now=BEFORE)
    assert filed.kind == "trade"

    with pytest.raises(InputError, match=f"swap {filed.id} is requested"):  # not accepted yet
        approve_swap(board.engine, bundle, filed.id, now=BEFORE)
    accepted = accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)
    assert (accepted.state, accepted.version) == ("accepted", None)
    assert _current(board)[0] == 1, "acceptance published something before the approval"

    done = approve_swap(board.engine, bundle, filed.id, now=BEFORE)
    assert (done.state, done.version) == ("executed", 2)
    after = board.cells()
    moved = {("R1", day(2), "DAY"), ("R2", day(5), "DAY")}
    assert after == (hand_made() - moved) | {("R2", day(2), "DAY"), ("R1", day(5), "DAY")}
    assert _hard(bundle, after) == []
    assert _current(board) == (2, "swap", f"swap {filed.id}")

    one = request_swap(board.engine, bundle, SwapSpec("R1", day(8), "DAY", "R2"), now=BEFORE)
    two = request_swap(board.engine, bundle, SwapSpec("R2", day(9), "DAY", "R1"), now=BEFORE)
    three = request_swap(board.engine, bundle, SwapSpec("R1", day(10), "DAY", "R2"), now=BEFORE)
    accept_swap(board.engine, bundle, one.id, "R2", now=BEFORE)
    rejected = reject_swap(board.engine, one.id, "short-staffed that week", now=BEFORE)
    assert (rejected.state, rejected.reason) == ("rejected", "short-staffed that week")
    assert cancel_swap(board.engine, two.id, now=BEFORE).state == "cancelled"
    with pytest.raises(InputError, match=f"swap {two.id} is cancelled"):
        approve_swap(board.engine, bundle, two.id, now=BEFORE)
    with pytest.raises(InputError, match=f"swap {three.id} is expired"):  # touched after its day
        accept_swap(board.engine, bundle, three.id, "R2", now=dt.datetime(2027, 7, 20, 12, tzinfo=dt.UTC))
    states = [v.state for v in list_swaps(board.engine, PROGRAM)]
    assert states == ["executed", "rejected", "cancelled", "expired"]
    assert _current(board)[0] == 2


def test_an_open_offer_is_taken_by_someone_the_rules_allow(board: Board) -> None:
    bundle = board.with_approval("none")
    filed = request_swap(board.engine, bundle, SwapSpec("R2", day(7), "DAY"), now=BEFORE)
    assert (filed.kind, filed.with_person_id) == ("offer", None)

    with pytest.raises(SwapRefused, match="rotation_eligibility") as refused:  # R3 is on night float
        accept_swap(board.engine, bundle, filed.id, "R3", now=BEFORE)
    assert ("rotation_eligibility", "R3") in {(f["rule"], f["person_id"]) for f in refused.value.findings}
    assert get_swap(board.engine, filed.id).state == "requested", "one taker's refusal closed the offer"

    done = accept_swap(board.engine, bundle, filed.id, "R1", now=BEFORE)
    assert (done.state, done.accepted_by, done.version) == ("executed", "R1", 2)
    assert ("R1", day(7), "DAY") in board.cells() and ("R2", day(7), "DAY") not in board.cells()
    assert _hard(bundle, board.cells()) == []


# --------------------------------------------------------------------------- refusals


def test_illegal_swaps_are_refused_with_their_rule_when_filed_or_at_execution(board: Board) -> None:
    bundle = board.with_approval("none")
    # R2 comes off a 24-hour call on the block's first morning
    spec = SwapSpec("R1", day(0), "DAY", with_person_id="R2")
    with pytest.raises(SwapRefused, match="acgme_rest_after_call") as refused:
        request_swap(board.engine, bundle, spec, now=BEFORE)
    assert refused.value.exit_code == 3 and refused.value.swap_id is not None
    view = get_swap(board.engine, refused.value.swap_id)
    assert view.state == "refused" and view.reason is not None
    assert "acgme_rest_after_call for R2" in view.reason and "Resident" not in view.reason

    with pytest.raises(InputError, match="--person/--date/--shift"):  # R1 does not work day 1: nothing recorded
        request_swap(board.engine, bundle, SwapSpec("R1", day(1), "DAY", "R2"), now=BEFORE)
    with pytest.raises(InputError, match="--date"):  # a day that has passed
        request_swap(board.engine, bundle, spec, now=dt.datetime(2027, 7, 5, 12, tzinfo=dt.UTC))
    assert [v.state for v in list_swaps(board.engine, PROGRAM)] == ["refused"]

    # legal when filed; then the coordinator puts R2 on a 24-hour call that day
    filed = request_swap(board.engine, bundle, SwapSpec("R1", day(6), "DAY", with_person_id="R2"), now=BEFORE)
    assert board.publish(hand_made() | {("R2", day(6), "CALL24")}, "manual", based_on=1) == 2
    with pytest.raises(SwapRefused, match="one_shift_at_a_time"):
        accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)
    view = get_swap(board.engine, filed.id)
    assert view.state == "refused" and "one_shift_at_a_time for R2" in str(view.reason)
    assert _current(board)[:2] == (2, "manual"), "a refused execution published a version"
    with pytest.raises(InputError, match=f"swap {filed.id} is refused"):
        accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)


B2_START = dt.date(2027, 7, 29)


def b2_rows() -> set[Row]:
    """Block B2 (R2 on the ward every day of its first 22, 6 days off at its end; R3 covers them), F1 on
    weekdays. With R2 on B1's odd days, every 28-day window that reaches back into B1 leaves R2 4 days off;
    one more shift on B1's day 26 leaves 3 in the windows from day 19 to day 24."""
    rows: set[Row] = set()
    for d in range(28):
        date = B2_START + dt.timedelta(days=d)
        rows.add(("R2" if d < 22 else "R3", date, "DAY"))
        if date.weekday() < 5:
            rows.add(("F1", date, "DAY"))
    return rows


def test_a_swap_is_checked_on_the_next_published_block_when_filed_and_at_execution(board: Board) -> None:
    """B2's 28-day windows read B1's last days: R1's DAY on day 26 given to R2 is legal within B1 but leaves R2
    3 days off in a window of B2. Filed before B2 is published it passes; its execution after B2 is refused."""
    bundle = board.with_approval("none")
    spec = SwapSpec("R1", day(26), "DAY", with_person_id="R2")
    assert _hard(bundle, set(swapped(hand_made(), spec, "R2"))) == []  # nothing within B1 forbids it
    filed = request_swap(board.engine, bundle, spec, now=BEFORE)
    assert board.publish(b2_rows(), block_id="B2") == 1

    with pytest.raises(SwapRefused, match="acgme_day_off_in_seven") as refused:
        accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)
    found = {(f["rule"], f["person_id"], f["window_start"], f["window_end"]) for f in refused.value.findings}
    assert ("acgme_day_off_in_seven", "R2", day(24).isoformat(), "2027-08-21") in found
    assert get_swap(board.engine, filed.id).state == "refused" and board.cells() == hand_made()
    with pytest.raises(SwapRefused, match="acgme_day_off_in_seven for R2 from 2027-07-25 to 2027-08-21"):
        request_swap(board.engine, bundle, spec, now=BEFORE)

    # a swap whose days B2 does not mind runs, and B2 stays as it was
    ok = request_swap(board.engine, bundle, SwapSpec("R2", day(25), "DAY", with_person_id="R1"), now=BEFORE)
    assert accept_swap(board.engine, bundle, ok.id, "R1", now=BEFORE).state == "executed"
    b2 = published_version(board.engine, PROGRAM, "B2")
    assert b2 is not None and b2.number == 1 and b2.cells == b2_rows()


def test_an_execution_waits_for_the_next_blocks_lock_on_postgresql(
    postgres_url: str, tiny_dir: Path, settings: Settings
) -> None:
    """The next block's row is locked with the swap's own: a swap of B1 waits while B2 is being published."""
    board = _board(postgres_url, tiny_dir, settings)
    bundle = board.with_approval("none")
    assert board.publish(b2_rows(), block_id="B2") == 1
    filed = request_swap(board.engine, bundle, SwapSpec("R2", day(25), "DAY", with_person_id="R1"), now=BEFORE)
    done: list[str] = []
    holder = make_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        with holder.connect() as connection, connection.begin() as transaction:
            locked = connection.execute(
                text(
                    "SELECT b.id FROM blocks b JOIN programs p ON p.id = b.program_id WHERE b.block_id = 'B2' FOR UPDATE"
                )
            ).all()
            assert len(locked) == 1
            worker = threading.Thread(
                target=lambda: done.append(accept_swap(board.engine, bundle, filed.id, "R1", now=BEFORE).state)
            )
            worker.start()
            worker.join(timeout=2)
            assert worker.is_alive() and not done, "the swap did not wait for the next block's lock"
            transaction.rollback()
        worker.join(timeout=30)
        assert done == ["executed"]
    finally:
        holder.dispose()
        board.engine.dispose()


def _start(bundle: Bundle, index: int, shift: str = "DAY") -> dt.datetime:
    """The instant (UTC) shift ``shift`` of the block's day ``index`` starts."""
    return block_instance(bundle, "B1").slot(index, shift).start


def test_a_shift_that_has_started_today_is_never_moved(board: Board) -> None:
    bundle = board.with_approval("none", undo_hours=24)
    minute = dt.timedelta(minutes=1)
    # filing: the day is today, but the shift has begun (at its start instant already)
    with pytest.raises(InputError, match="--date.*started"):
        request_swap(board.engine, bundle, SwapSpec("R1", day(4), "DAY", "R2"), now=_start(bundle, 4))
    trade = SwapSpec("R1", day(6), "DAY", "R2", take_date=day(5), take_shift_id="DAY")
    with pytest.raises(InputError, match="--take-date.*started"):
        request_swap(board.engine, bundle, trade, now=_start(bundle, 5) + minute)
    with pytest.raises(InputError, match="--take-date.*has passed"):  # a take-date on a day before today
        request_swap(board.engine, bundle, trade, now=_start(bundle, 6) - dt.timedelta(hours=6))
    assert list_swaps(board.engine, PROGRAM) == [], "a refused filing was recorded"
    filed = request_swap(board.engine, bundle, trade, now=_start(bundle, 5) - minute)  # a minute before: fine
    assert filed.state == "requested"

    # execution: filed in time, accepted once the taken shift has started: it expires, nothing is published
    with pytest.raises(InputError, match=f"swap {filed.id} is expired: DAY on {day(5)} started"):
        accept_swap(board.engine, bundle, filed.id, "R2", now=_start(bundle, 5))
    assert get_swap(board.engine, filed.id).state == "expired"
    assert _current(board)[0] == 1 and board.cells() == hand_made()

    # undo: executed before the shift, undone (within the window) after it started
    give = request_swap(board.engine, bundle, SwapSpec("R1", day(8), "DAY", "R2"), now=BEFORE)
    done = accept_swap(board.engine, bundle, give.id, "R2", now=_start(bundle, 8) - dt.timedelta(hours=2))
    assert done.state == "executed"
    with pytest.raises(InputError, match=f"swap {give.id} moved DAY on {day(8)} started"):
        undo_swap(board.engine, bundle, give.id, now=_start(bundle, 8) + minute)
    assert get_swap(board.engine, give.id).state == "executed" and _current(board)[0] == 2
    undone = undo_swap(board.engine, bundle, give.id, now=_start(bundle, 8) - minute)
    assert undone.state == "undone" and board.cells() == hand_made()


def test_a_swap_whose_files_cannot_be_written_still_executes(board: Board, caplog: pytest.LogCaptureFixture) -> None:
    bundle = board.with_approval("none")
    runs = Path(get_settings().var_dir) / "runs"
    if runs.is_dir():
        shutil.rmtree(runs)
    runs.parent.mkdir(parents=True, exist_ok=True)
    runs.write_text("not a folder\n")  # the runs folder cannot be made
    filed = request_swap(board.engine, bundle, SwapSpec("R1", day(4), "DAY", "R2"), now=BEFORE)
    with caplog.at_level("WARNING", logger="rotaflow.services.swap_board"):
        done = accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)
    assert (done.state, done.version, done.out_dir) == ("executed", 2, None)
    assert _current(board) == (2, "swap", f"swap {filed.id}")
    assert ("R2", day(4), "DAY") in board.cells()
    assert any(f"swap {filed.id} of {PROGRAM} block B1 is version 2" in r.getMessage() for r in caplog.records)
    assert get_swap(board.engine, filed.id).state == "executed"
    undone = undo_swap(board.engine, bundle, filed.id, now=BEFORE)  # the undo, likewise
    assert (undone.state, undone.out_dir) == ("undone", None) and board.cells() == hand_made()


# --------------------------------------------------------------------------- undo


def test_undo_restores_the_previous_version_exactly(board: Board) -> None:
    bundle = board.with_approval("none", undo_hours=24)
    spec = SwapSpec("R1", day(2), "DAY", with_person_id="R2", take_date=day(5), take_shift_id="DAY")
    first = published_version(board.engine, PROGRAM, "B1")
    assert first is not None
    filed = request_swap(board.engine, bundle, spec, now=BEFORE)
    done = accept_swap(board.engine, bundle, filed.id, "R2", now=BEFORE)
    assert board.cells() != hand_made()
    swapped_in = published_version(board.engine, PROGRAM, "B1")
    assert swapped_in is not None and swapped_in.rows[("R2", day(2), "DAY")].source == "manual"

    undone = undo_swap(board.engine, bundle, filed.id, now=BEFORE + dt.timedelta(hours=23))
    assert (undone.state, undone.version, undone.undo_version) == ("undone", done.version, 3)
    assert board.cells() == hand_made()
    assert _current(board) == (3, "swap", f"undo of swap {filed.id}")
    restored = published_version(board.engine, PROGRAM, "B1")
    assert restored is not None  # every row with the source it had in version 1, the two put back included
    assert {c: r.source for c, r in restored.rows.items()} == {c: r.source for c, r in first.rows.items()}
    assert (Path(str(undone.out_dir)) / "changes.csv").is_file()
    with pytest.raises(InputError, match=f"swap {filed.id} is undone"):
        undo_swap(board.engine, bundle, filed.id, now=BEFORE)


def test_undo_is_refused_after_a_later_change_to_its_rows_or_after_the_window(board: Board) -> None:
    bundle = board.with_approval("none", undo_hours=24)
    first = request_swap(board.engine, bundle, SwapSpec("R1", day(2), "DAY", "R2"), now=BEFORE)
    accept_swap(board.engine, bundle, first.id, "R2", now=BEFORE)
    unrelated = request_swap(board.engine, bundle, SwapSpec("R2", day(9), "DAY", "R1"), now=BEFORE)
    accept_swap(board.engine, bundle, unrelated.id, "R1", now=BEFORE)
    back = request_swap(board.engine, bundle, SwapSpec("R2", day(2), "DAY", "R1"), now=BEFORE)
    accept_swap(board.engine, bundle, back.id, "R1", now=BEFORE)  # moves the row the first swap added

    with pytest.raises(SwapRefused, match=f"a later version \\(4\\) changed the rows swap {first.id} moved") as later:
        undo_swap(board.engine, bundle, first.id, now=BEFORE)
    assert later.value.swap_id == first.id
    assert get_swap(board.engine, first.id).state == "executed"
    with pytest.raises(InputError, match="within the last 24 hour"):
        undo_swap(board.engine, bundle, unrelated.id, now=BEFORE + dt.timedelta(hours=25))
    # an undo that only later, unrelated changes followed is allowed
    # within the window but after the swapped day: a day already worked is never changed
    with pytest.raises(InputError, match="before today"):
        undo_swap(board.engine, bundle, unrelated.id, now=dt.datetime.combine(day(10), dt.time(12), tzinfo=dt.UTC))
    undone = undo_swap(board.engine, bundle, unrelated.id, now=BEFORE + dt.timedelta(hours=1))
    assert undone.state == "undone" and board.cells() == hand_made()
    assert _current(board)[0] == 5


# --------------------------------------------------------------------------- concurrency


def _requests(board: Board, bundle: Bundle) -> list[tuple[int, str]]:
    """50 requests among R1 and R2 on the block's days 1 to 12 (many on the same rows), with who accepts each."""
    specs: list[SwapSpec] = []
    for d in range(1, 13):
        specs.append(SwapSpec(owner(d), day(d), "DAY", other(owner(d))))  # a give-away
        specs.append(SwapSpec(owner(d), day(d), "DAY"))  # an open offer of the same shift
        specs.append(SwapSpec(owner(d), day(d), "DAY", other(owner(d))))  # the same give-away again
    for even, odd in ((2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (2, 5), (4, 7), (6, 9), (8, 11), (10, 1), (12, 3)):
        specs.append(SwapSpec("R1", day(even), "DAY", "R2", take_date=day(odd), take_shift_id="DAY"))
    specs += [SwapSpec("R2", day(1), "DAY", "R1", take_date=day(12), take_shift_id="DAY")] * 3
    assert len(specs) == 50
    filed = []
    for spec in specs:
        try:
            view = request_swap(board.engine, bundle, spec, now=BEFORE)
        except SwapRefused:
            continue
        filed.append((view.id, spec.with_person_id or other(spec.person_id)))
    return filed


def test_fifty_parallel_swap_executions_on_postgresql(postgres_url: str, tiny_dir: Path, settings: Settings) -> None:
    board = _board(postgres_url, tiny_dir, settings)
    bundle = board.with_approval("none")
    filed = _requests(board, bundle)
    assert len(filed) >= 45
    work: queue.Queue[tuple[int, str]] = queue.Queue()
    for item in filed:
        work.put(item)
    outcomes: dict[int, str] = {}
    failures: list[BaseException] = []

    def client() -> None:
        engine = make_engine(postgres_url, pool_size=1, max_overflow=0)  # its own engine and connection
        try:
            while True:
                try:
                    swap_id, by = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcomes[swap_id] = accept_swap(engine, bundle, swap_id, by, now=BEFORE).state
                except SwapRefused:  # refused, or an offer this taker may not take (still open)
                    outcomes[swap_id] = get_swap(engine, swap_id).state
        except BaseException as error:  # reported below
            failures.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(outcomes) == len(filed)

    views = {v.id: v for v in list_swaps(board.engine, PROGRAM)}
    executed = sorted((v for v in views.values() if v.state == "executed"), key=lambda v: v.version or 0)
    refused = [v for v in views.values() if v.id in outcomes and v.state == "refused"]
    assert {i: views[i].state for i in outcomes} == outcomes
    assert len(executed) >= 10 and refused, "the requests did not conflict as intended"
    assert all(v.reason and v.reason.strip() for v in refused), "a refused swap does not say why"
    # the versions: one per executed swap, one after the other, each made from the one before
    assert [v.version for v in executed] == list(range(2, 2 + len(executed)))
    infos = block_versions(board.engine, PROGRAM, "B1").versions
    assert [(i.version, i.based_on) for i in infos[1:]] == [(n, n - 1) for n in range(2, 2 + len(executed))]

    final = board.cells()
    # no lost update: replaying the executed swaps in version order on version 1 gives the final version
    replay: frozenset[Row] = frozenset(hand_made())
    for view in executed:
        spec = SwapSpec(
            view.person_id, view.date, view.shift_id, view.with_person_id, view.take_date, view.take_shift_id
        )
        replay = swapped(replay, spec, str(view.accepted_by))
    assert set(replay) == final
    # no double booking: one live row per person, date and shift, all of the last version's run
    with UnitOfWork(board.engine) as uow:
        live = uow.s.execute(
            select(Assignment.person_id, Assignment.date, Assignment.shift_id, func.count())
            .where(Assignment.run_id.is_not(None))
            .group_by(Assignment.person_id, Assignment.date, Assignment.shift_id)
        ).all()
    assert all(count == 1 for *_, count in live) and len(live) == len(final)
    assert _hard(bundle, final) == []
    board.engine.dispose()
