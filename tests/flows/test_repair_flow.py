"""``rotaflow repair`` end to end: a sick leave in the shipped sample covered with the fewest changes, the churn
guard, an impossible repair diagnosed, bad input, and generation's warm start from a published version.

Each block is solved once for the module (the sample's 2027-B01 in about 15 s, the tiny bundle's B1 in one)
and published as version 1 into each test's own database through the service layer, as ``rotaflow generate``
would; the repairs then run the real ``repair_block`` flow or ``rotaflow repair``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gc
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import rotaflow.services.generate as service
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.constraints.instance import Cell
from rotaflow.constraints.solve import SolveResult
from rotaflow.db.models import BlockVersion, ScheduleRun
from rotaflow.db.session import UnitOfWork
from rotaflow.flows.generate import generate_block
from rotaflow.flows.repair import repair_block
from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.services.versions import PublishedVersion, block_versions, published_version
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import SAMPLE, TINY

SAMPLE_BLOCK = "2027-B01"
SICK = (dt.date(2027, 7, 14), dt.date(2027, 7, 16))
"""A three-day sick leave in the middle of the sample's block."""
FROM = dt.date(2027, 7, 10)
"""The repair date: a few days before the leave."""
REPAIR_SECONDS = 40
"""Seconds the sample's repair may use (it ends as soon as it proves its optimum; a busy two-core machine is slow)."""

pytestmark = [pytest.mark.flow, pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")]


TODAY = dt.date(2027, 6, 1)
"""The day the tests run on, in the program's timezone: before the blocks, so every repair date is ahead."""


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rotaflow.services.repair.program_today", lambda timezone, **_: TODAY)


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _fast_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the Great Expectations suites (seconds per run; the ingest flow tests cover them)."""
    import rotaflow.services.ingest as ingest_service
    from rotaflow.validations.expectations import ExpectationReport

    monkeypatch.setattr(
        ingest_service, "check_expectations", lambda bundle, settings=None: ExpectationReport(True, [], None, 0, 0)
    )


# --------------------------------------------------------------------------- bundles and version 1


def _tiny_solvable(folder: Path) -> Path:
    """The tiny bundle with night cover as a soft target (as shipped, one resident cannot cover 28 nights)."""
    path = folder / "coverage.csv"
    text = path.read_text(encoding="utf-8")
    assert "NIGHT,daily,NF,resident,,,1,1," in text
    path.write_text(text.replace("NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1"))
    return folder


def _solve(folder: Path, block_id: str, seconds: float) -> SolveResult:
    bundle = load_bundle(str(folder))
    instance = block_instance(bundle, block_id)
    result = service.solve_block(instance, rules_for(bundle), service.load_solver_settings(time_limit_seconds=seconds))
    assert result.status in {"optimal", "feasible"} and result.cells, result.status
    return result


@pytest.fixture(scope="module")
def sample_solved() -> SolveResult:
    """The sample's 2027-B01, solved once for the module (a valid schedule is all the repairs need)."""
    return _solve(SAMPLE, SAMPLE_BLOCK, 15)


@pytest.fixture(scope="module")
def tiny_solved(tmp_path_factory: pytest.TempPathFactory) -> SolveResult:
    """The (solvable) tiny bundle's B1, solved to optimality once for the module."""
    folder = _tiny_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("tiny") / "tiny")))
    result = _solve(folder, "B1", 10)
    assert result.status == "optimal"
    return result


@dataclass
class Published:
    """A bundle copied into the test's folder, ingested, with one block published as version 1."""

    bundle: Path
    program: str
    block_id: str
    start: dt.date
    cells: frozenset[Cell]
    v1: PublishedVersion

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def current(self) -> PublishedVersion:
        found = published_version(database_engine(get_settings()), self.program, self.block_id)
        assert found is not None
        return found


def _publish_first(source: Path, target: Path, block_id: str, solved: SolveResult) -> Published:
    """``source`` copied to ``target`` and ingested; ``solved`` published as the block's version 1."""
    shutil.copytree(source, target)
    settings = get_settings()
    engine = database_engine(settings)
    stored = ingest_bundle(str(target), settings=settings, engine=engine, expectations=False)
    bundle = load_bundle(str(target), settings=settings)
    instance = block_instance(bundle, block_id)
    summary = GenerateResult.start(
        run_id=str(uuid.uuid4()),
        program=bundle.program.key,
        program_version=stored.result.version,
        block_id=block_id,
        rules=[r.name for r in rules_for(bundle)],
        time_limit_seconds=60,
    ).solved(solved)
    made = service.publish_run(
        engine,
        program_key=bundle.program.key,
        version=stored.result.version,
        instance=instance,
        result=solved,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
    )
    assert made.block_version == 1
    v1 = published_version(engine, bundle.program.key, block_id)
    assert v1 is not None and v1.number == 1
    return Published(target, bundle.program.key, block_id, instance.start, solved.cells, v1)


@pytest.fixture
def sample(sample_solved: SolveResult, tmp_path: Path) -> Published:
    return _publish_first(SAMPLE, tmp_path / "sample", SAMPLE_BLOCK, sample_solved)


@pytest.fixture
def tiny(tiny_solved: SolveResult, tmp_path: Path) -> Published:
    return _publish_first(
        _tiny_solvable(Path(shutil.copytree(TINY, tmp_path / "src"))), tmp_path / "tiny", "B1", tiny_solved
    )


def _add_absences(bundle: Path, lines: list[str]) -> None:
    path = bundle / "absences.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + ("" if text.endswith("\n") else "\n") + "".join(line + "\n" for line in lines))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


Row = tuple[str, dt.date, str]


def _cells(path: Path) -> set[Row]:
    return {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in _rows(path)}


def _events(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """A calendar file's events by (date, description's shift id): uid, sequence, cancelled."""
    from icalendar import Calendar

    found = {}
    for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
        text = str(event.get("summary"))
        cancelled = text.startswith("Cancelled: ")
        shift = str(event.get("description")).split("\n")[0].removeprefix("shift: ")  # the title is its name
        day = event.decoded("dtstart").date().isoformat()
        found[(day, shift)] = {
            "uid": str(event.get("uid")),
            "sequence": int(event.get("sequence")),
            "cancelled": cancelled,
            "status": str(event.get("status") or ""),
        }
    return found


def _database_counts() -> tuple[int, int]:
    """(schedule runs, block versions) in the test's database."""
    with UnitOfWork(database_engine(get_settings())) as uow:
        runs = uow.s.scalar(select(func.count()).select_from(ScheduleRun))
        versions = uow.s.scalar(select(func.count()).select_from(BlockVersion))
        return int(runs or 0), int(versions or 0)


# --------------------------------------------------------------------------- the sample: a sick leave covered


def test_a_sick_leave_in_the_sample_is_covered_with_the_fewest_changes_as_version_2(
    sample: Published, tmp_path: Path
) -> None:
    days = range((SICK[0] - sample.start).days, (SICK[1] - sample.start).days + 1)
    working = sorted(
        {
            p
            for p, _, _ in sample.cells
            if p.startswith("R") and all(any(c[:2] == (p, d) for c in sample.cells) for d in days)
        },
        key=lambda p: (p != "R034", p),
    )
    assert working, "no resident works all three days of the leave"
    person = working[0]
    _add_absences(sample.bundle, [f"{person},{SICK[0]},{SICK[1]},sick,true"])
    out = tmp_path / "repair"
    state = repair_block(
        str(sample.bundle),
        SAMPLE_BLOCK,
        out_dir=str(out),
        from_date=FROM,
        publish=True,
        contingency="none",
        backup=False,
        time_limit_seconds=REPAIR_SECONDS,
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()

    # the leave is covered and every hard rule holds (the engine's checkers and the independent validator)
    after = _cells(out / "assignments.csv")
    assert not {c for c in after if c[0] == person and SICK[0] <= c[1] <= SICK[1]}
    assert summary["hard_violations"] == 0 and summary["engine_check_violations"] == 0
    assert json.loads((out / "validation.json").read_text(encoding="utf-8"))["hard_violations"] == 0
    # nothing before the repair date changed
    before = set(sample.v1.rows)
    assert {c for c in after if c[1] < FROM} == {c for c in before if c[1] < FROM}
    assert {r["source"] for r in _rows(out / "assignments.csv") if r["date"] < FROM.isoformat()} == {"pinned"}

    # published as version 2, made from version 1 by a repair, its rows those of assignments.csv
    assert (summary["published"], summary["version"], summary["based_on_version"]) == (True, 2, 1)
    assert summary["backup"] == {"skipped": "--no-backup"} and "not backed up (--no-backup)" in str(state.message)
    v2 = sample.current()
    assert v2.number == 2 and set(v2.rows) == after
    history = block_versions(database_engine(get_settings()), sample.program, SAMPLE_BLOCK).versions
    assert [(v.version, v.status, v.reason, v.based_on) for v in history] == [
        (1, "published", "generate", None),
        (2, "published", "repair", 1),
    ]
    reference = f"absence {person} {SICK[0]}..{SICK[1]} (sick)"
    assert history[1].reference == reference

    # the fewest changes, proved; every one of them in changes.csv, naming version 2 and the absence
    diff = before ^ after
    facts = summary["repair"]
    assert facts["from"] == FROM.isoformat() and facts["frozen_days"] == (FROM - sample.start).days
    assert facts["proved_minimal"] is True and facts["changes"] == facts["min_changes_bound"] == len(diff)
    lost = {c for c in before - after if c[0] == person}
    assert lost == {c for c in before if c[0] == person and SICK[0] <= c[1] <= SICK[1]}
    assert facts["churn"]["refused"] is False and facts["churn"]["forced"] == len(lost)
    changes = _rows(out / "changes.csv")
    assert {(r["person_id"], dt.date.fromisoformat(r["date"]), r["shift_id"]) for r in changes} == diff
    for row in changes:
        expected = (
            "removed" if (row["person_id"], dt.date.fromisoformat(row["date"]), row["shift_id"]) in before else "added"
        )
        assert (row["change"], row["from_version"], row["to_version"]) == (expected, "1", "2"), row
        assert (row["reason"], row["reference"]) == ("repair", reference), row
    assert "changes.csv" in json.loads((out / service.RUN_MARKER).read_text())["files"]

    # calendars: the absent resident's lost shifts are cancelled under the UIDs version 1 gave them
    old_ids = sample.v1.identities(sample.program)
    events = _events(out / "calendars" / f"{person}.ics")
    for cell in lost:
        event = events[(cell[1].isoformat(), cell[2])]
        assert event["cancelled"] and event["status"] == "CANCELLED", cell
        assert (event["uid"], event["sequence"]) == (old_ids[cell][0], old_ids[cell][1] + 1) == (old_ids[cell][0], 1)
    # every event in the calendars of those who changed is the row version 2 stored, identity and all
    new_ids = v2.identities(sample.program)
    for who in {c[0] for c in diff}:
        for (day, shift), event in _events(out / "calendars" / f"{who}.ics").items():
            cell = (who, dt.date.fromisoformat(day), shift)
            if not event["cancelled"]:
                assert (event["uid"], event["sequence"]) == new_ids[cell], cell
    unchanged = [c for c in after if c[0] not in {d[0] for d in diff}][:20]
    assert unchanged and all(new_ids[c] == old_ids[c] for c in unchanged)


# --------------------------------------------------------------------------- the churn guard, through the CLI


def _repair_cli(bundle: Path, out: Path, *extra: str) -> list[str]:
    return [
        "repair",
        "--program",
        str(bundle),
        "--block",
        "B1",
        "--out",
        str(out),
        "--time-limit",
        "5",
        "--contingency",
        "none",
        "--json",
        *extra,
    ]


def test_the_churn_guard_refuses_a_repair_over_its_limits_until_allowed(
    tiny: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # R1 falls sick on every day R2 is off (R1 alone on the ward): R2 must work them all, and then has to
    # give up other days to keep four days off in 28: changes the absence does not force
    # (not on the block's first day: R2 is still on the call that began the day before, see history.csv)
    conference = {dt.date(2027, 7, 10), dt.date(2027, 7, 11)}  # R1's own (non-blocking) absence
    off = [
        tiny.date(d)
        for d in range(1, 28)
        if ("R2", d, "DAY") not in tiny.cells and ("R1", d, "DAY") in tiny.cells and tiny.date(d) not in conference
    ]
    assert len(off) >= 2, off
    _add_absences(tiny.bundle, [f"R1,{day},{day},sick,true" for day in off])
    solver_file = tmp_path / "solver.yaml"
    solver_file.write_text("repair:\n  churn_total_share: 0.01\n  churn_person_share: 0.01\n", encoding="utf-8")
    monkeypatch.setattr(service, "load_solver_settings", functools.partial(service.load_solver_settings, solver_file))

    out = tmp_path / "refused"
    assert main(_repair_cli(tiny.bundle, out, "--from", "2027-07-01", "--publish")) == 3
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    churn = summary["repair"]["churn"]
    assert churn["refused"] is True and churn["changed"] >= 1 and churn["forced"] == len(off)
    assert (churn["limit_share"], churn["limit_person_share"]) == (0.01, 0.01)
    assert [p["person_id"] for p in churn["people_over_limit"]] == ["R2"]
    assert any("of R2 would change" in reason for reason in churn["reasons"])
    assert "churn guard refused" in captured.err and "--allow-churn" in captured.err
    assert summary["published"] is False and summary.get("version") is None
    # nothing published: the block is still at version 1, and the repair is there to review
    assert tiny.current().number == 1 and _database_counts()[1] == 1
    changes = _rows(out / "changes.csv")
    assert changes and {r["to_version"] for r in changes} == {""} and {r["from_version"] for r in changes} == {"1"}
    assert (out / "changes.html").is_file()
    assert {("removed", "R1", day.isoformat()) for day in off} <= {
        (r["change"], r["person_id"], r["date"]) for r in changes
    }

    again = tmp_path / "allowed"
    assert main(_repair_cli(tiny.bundle, again, "--from", "2027-07-01", "--publish", "--allow-churn")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["published"], summary["version"], summary["based_on_version"]) == (True, 2, 1)
    assert summary["repair"]["churn"]["refused"] is True  # refused by the limits, accepted by the user
    v2 = tiny.current()
    assert v2.number == 2 and set(v2.rows) == _cells(again / "assignments.csv")
    assert {r["to_version"] for r in _rows(again / "changes.csv")} == {"2"}

    # R2 lost some shifts and gained others: a gained one carries a lost one's UID, its SEQUENCE one higher
    before, after = set(tiny.v1.rows), set(v2.rows)
    lost = {c for c in before - after if c[0] == "R2"}
    gained = {c for c in after - before if c[0] == "R2"}
    assert lost and gained
    old_ids, new_ids = tiny.v1.identities(tiny.program), v2.identities(tiny.program)
    moved = {c: new_ids[c] for c in gained if new_ids[c][0] in {old_ids[x][0] for x in lost}}
    assert moved and all(sequence == 1 for _, sequence in moved.values())
    events = _events(again / "calendars" / "R2.ics")
    for (_, day, shift), (uid, sequence) in moved.items():
        event = events[(day.isoformat(), shift)]
        assert (event["uid"], event["sequence"], event["cancelled"]) == (uid, sequence, False)


# --------------------------------------------------------------------------- an impossible repair, in words


def _diagnosed(tiny: Published, out: Path, capsys: pytest.CaptureFixture[str], *options: str) -> list[dict[str, Any]]:
    """Run the repair, which must be impossible: exit 3, nothing published, summary.json's diagnosis."""
    assert main(_repair_cli(tiny.bundle, out, *options, "--publish")) == 3
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "infeasible" and not summary.get("published") and not summary.get("version")
    written = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert written["diagnosis"] == summary["diagnosis"] and summary["diagnosis"]
    assert tiny.current().number == 1 and _database_counts()[1] == 1
    # no schedule replaces the published one: no changes.csv, no calendar cancelling its events
    assert not (out / "changes.csv").exists() and not list((out / "calendars").glob("*.ics"))
    return list(summary["diagnosis"])


def _names(item: dict[str, Any]) -> str:
    return str(item.get("rule") or item.get("screen"))


def test_removing_the_only_one_who_can_cover_a_shift_is_diagnosed_before_solving(
    tiny: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # F1 is the only faculty member, and a weekday needs one on the day shift
    assert ("F1", 13, "DAY") in tiny.cells
    _add_absences(tiny.bundle, ["F1,2027-07-14,2027-07-14,sick,true"])
    diagnosis = _diagnosed(tiny, tmp_path / "out", capsys, "--from", "2027-07-10")
    by_screen = {_names(found): found for found in diagnosis}
    # without F1 the day shift also lacks the faculty its residents need under the supervision ratio
    assert set(by_screen) == {"coverage_supply", "supervision_capacity"}, diagnosis
    assert by_screen["supervision_capacity"]["dates"] == ["2027-07-14"]
    item = by_screen["coverage_supply"]
    assert item["dates"] == ["2027-07-14"] and item["shift"] == "DAY"
    assert "needs at least 1 person" in item["message"] and "on leave: F1" in item["message"]


def test_an_absence_nobody_can_cover_is_diagnosed_naming_the_rules_the_person_and_the_date(
    tiny: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # on the block's first day R2 is still on the call that began the day before (history.csv): only R1 can
    # take the ward's day shift, and R1 falls sick
    _add_absences(tiny.bundle, ["R1,2027-07-01,2027-07-01,sick,true"])
    diagnosis = _diagnosed(tiny, tmp_path / "out", capsys, "--from", "2027-07-01")
    by_rule = {_names(item): item for item in diagnosis}
    assert {"blocking_absence", "coverage"} <= set(by_rule), diagnosis
    assert by_rule["blocking_absence"]["people"] == ["R1"] and "2027-07-01" in by_rule["blocking_absence"]["dates"]
    assert "2027-07-01" in by_rule["coverage"]["message"] and "DAY" in by_rule["coverage"]["message"]
    assert "R1" in by_rule["blocking_absence"]["message"]


def test_an_absence_on_a_frozen_day_the_person_worked_is_diagnosed(
    tiny: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # R1 worked a day before --from alongside R2 (so the ward stays covered): that day is kept as published
    shared = [d for d in range(1, 9) if ("R1", d, "DAY") in tiny.cells and ("R2", d, "DAY") in tiny.cells]
    assert shared
    day = tiny.date(shared[0])
    _add_absences(tiny.bundle, [f"R1,{day},{day},sick,true"])
    diagnosis = _diagnosed(tiny, tmp_path / "out", capsys, "--from", "2027-07-10")
    by_rule = {_names(item): item for item in diagnosis}
    assert set(by_rule) == {"blocking_absence", "frozen"}, diagnosis
    assert by_rule["blocking_absence"]["people"] == ["R1"] and day.isoformat() in by_rule["blocking_absence"]["dates"]
    assert by_rule["frozen"]["dates"] == [day.isoformat()]
    assert "kept exactly as published" in by_rule["frozen"]["message"]


# --------------------------------------------------------------------------- bad input


def test_bad_input_exits_2_naming_the_option_and_writes_nothing(
    tiny: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = _database_counts()
    out = tmp_path / "out"
    never = ["repair", "--program", str(tiny.bundle), "--block", "B2", "--out", str(out), "--time-limit", "5"]
    assert main(never) == 2
    err = capsys.readouterr().err
    assert "--block" in err and "B2 has no published version" in err
    late = ["repair", "--program", str(tiny.bundle), "--block", "B1", "--out", str(out), "--from", "2027-07-29"]
    assert main(late) == 2
    err = capsys.readouterr().err
    assert "--from" in err and "2027-07-29" in err and "2027-07-28" in err
    assert main([*late[:-1], "29 July"]) == 2
    assert "--from" in capsys.readouterr().err
    assert main([*late[:-1], "2027-05-31"]) == 2  # the day before today: days already worked never change
    err = capsys.readouterr().err
    assert "--from" in err and "2027-05-31" in err and "today (2027-06-01)" in err
    assert not out.exists()
    assert _database_counts() == counts and tiny.current().number == 1


# --------------------------------------------------------------------------- generation's warm start


def test_generating_a_published_block_again_starts_from_its_version(
    tiny: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "again"
    state = generate_block(
        str(tiny.bundle),
        "B1",
        out_dir=str(out),
        time_limit_seconds=10,
        contingency="none",
        backup=False,
        return_state=True,
    )
    assert state.is_completed(), state.message
    summary = state.result()
    assert summary["based_on_version"] == 1 and summary["version"] == 2
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["based_on_version"] == 1
    # nothing forces a change: the published schedule is the optimum again, continuity counts no change
    after = _cells(out / "assignments.csv")
    changed = set(tiny.v1.rows) ^ after
    assert summary["penalties"]["continuity"] == len(changed) == 0
    assert set(tiny.current().rows) == after
    assert tiny.current().identities(tiny.program) == tiny.v1.identities(tiny.program)
    assert _rows(out / "changes.csv") == []

    assert main(["history", "--program", str(tiny.bundle), "--block", "B1", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["status"], v["reason"], v["based_on"]) for v in listed] == [
        (1, "published", "generate", None),
        (2, "published", "generate", 1),
    ]
    assert (listed[1]["added"], listed[1]["removed"]) == (0, 0)
