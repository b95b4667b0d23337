"""Files holding personal data are the owner's alone (0600, folders 0700); calendars escape names."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

import rotaflow.services.generate as service
from rotaflow.cli import main
from rotaflow.db.session import make_engine
from rotaflow.files import private_dir, replace_private, write_private
from rotaflow.services.results import GenerateResult
from tests.schedules import make_solvable, solved_schedule


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _open_umask() -> object:
    """A umask that lets everybody read new files: what the code does must not depend on it."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _private_tree(folder: Path) -> None:
    assert _mode(folder) == 0o700, folder
    for path in folder.rglob("*"):
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(_mode(path))}"


def _instance(tiny_dir: Path) -> object:
    from rotaflow.services.ingest import load_bundle
    from rotaflow.validations.instances import block_instance

    return block_instance(load_bundle(str(tiny_dir)), "B1")


CELLS = [("R1", 0, "DAY"), ("R2", 1, "NIGHT"), ("R3", 2, "DAY")]
SUMMARY = GenerateResult.start(
    run_id="run-1", program="tiny", program_version=1, block_id="B1", rules=[], time_limit_seconds=5.0
)


def test_run_outputs_and_calendars_are_private(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "one"
    written = service.write_outputs(
        out, instance=_instance(tiny_dir), cells=CELLS, findings=[], summary=SUMMARY.with_(status="feasible")
    )
    assert {p.name for p in written.files} >= {"assignments.csv", "summary.json", "report.html", "R1.ics"}
    _private_tree(out)
    assert _mode(tmp_path / "runs") == 0o700  # a folder made on the way is private too


def test_an_existing_output_file_becomes_private_when_rewritten(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    os.chmod(out / "summary.json", 0o644)
    service.write_outputs(out, instance=_instance(tiny_dir), cells=CELLS, findings=[], summary=SUMMARY)
    assert _mode(out / "summary.json") == 0o600
    assert _mode(out) == 0o755  # a folder the user made is left as it is


def test_validation_outputs_are_private(tiny_dir: Path, tmp_path: Path) -> None:
    solvable = make_solvable(tiny_dir)
    schedule = solved_schedule(solvable, "B1", tmp_path / "assignments.csv")
    out = tmp_path / "validated"
    code = main(
        ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), "--block", "B1"]
        + ["--no-flow", "--no-data-docs"]
    )
    assert code in (0, 3)
    assert {p.name for p in out.iterdir()} >= {"findings.csv", "report.html", "validation.json", "assignments.csv"}
    _private_tree(out)


def test_the_summary_rewritten_by_the_flow_is_private(tmp_path: Path) -> None:
    from rotaflow.tasks.generate import write_summary

    private_dir(tmp_path / "run")
    path = Path(write_summary.fn(str(tmp_path / "run"), SUMMARY.with_(status="optimal")))
    assert _mode(path) == 0o600 and path.read_text().startswith("{")


def test_the_sqlite_database_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "db" / "rotaflow.db"
    engine = make_engine(f"sqlite:///{path.as_posix()}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700


def test_an_existing_sqlite_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    make_engine(f"sqlite:///{path.as_posix()}").dispose()
    assert _mode(path) == 0o600


def test_write_private_replaces_text_and_bytes(tmp_path: Path) -> None:
    target = private_dir(tmp_path / "a" / "b") / "f.txt"
    write_private(target, "one")
    write_private(target, b"two")
    assert target.read_bytes() == b"two" and _mode(target) == 0o600


def test_replace_private_renames_a_whole_new_file_over_the_old(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old")
    os.chmod(target, 0o644)
    before = target.stat().st_ino
    replace_private(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o600
    assert target.stat().st_ino != before  # a reader holding the old file still reads it whole
    replace_private(tmp_path / "fresh.bin", b"\x00")
    assert _mode(tmp_path / "fresh.bin") == 0o600
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        replace_private(tmp_path / "folder", "x")  # the rename fails: no temporary file is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "fresh.bin", "page.html"]


# --------------------------------------------------------------------------- calendars


def _unfold(raw: bytes) -> list[str]:
    text = raw.decode("utf-8")
    assert "\n" not in text.replace("\r\n", ""), "a bare line break in the calendar"
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines), "a content line longer than 75 octets"
    return text.replace("\r\n ", "").split("\r\n")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Doe, Jane; MD \\ PhD", "Doe\\, Jane\\; MD \\\\ PhD"),
        ("Jane\nDoe", "Jane Doe"),
        ("Jane\rDoe", "Jane Doe"),
        ("Jane\u2028Doe\x85MD\x00", "Jane Doe MD"),
        ("Ñandú Ölçer-Øster " * 6, ("Ñandú Ölçer-Øster " * 6).strip()),
    ],
    ids=["comma-semicolon-backslash", "newline", "bare-cr", "separators", "long-unicode"],
)
def test_a_calendar_escapes_and_folds_the_name(tiny_dir: Path, tmp_path: Path, name: str, shown: str) -> None:
    from icalendar import Calendar

    out = tmp_path / "out"
    service.write_outputs(
        out, instance=_instance(tiny_dir), cells=CELLS, findings=[], summary=SUMMARY, names={"R1": name}
    )
    raw = (out / "calendars" / "R1.ics").read_bytes()
    lines = _unfold(raw)
    calname = next(line for line in lines if line.startswith("X-WR-CALNAME:"))
    assert calname == f"X-WR-CALNAME:{shown} — B1"
    calendar = Calendar.from_ical(raw)
    assert len(calendar.walk("VEVENT")) == 1


def test_a_private_folder_where_a_file_is_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    with pytest.raises(NotADirectoryError):
        private_dir(tmp_path / "taken")
    assert _mode(private_dir(tmp_path)) == _mode(tmp_path)  # an existing folder is left as it is


def test_a_sqlite_database_restored_from_a_backup_is_private(tmp_path: Path) -> None:
    from rotaflow.backups.databases import dump_database, restore_dump

    live = tmp_path / "live.db"
    engine = make_engine(f"sqlite:///{live.as_posix()}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE people (name TEXT)"))
        conn.execute(text("INSERT INTO people VALUES ('Jane Doe')"))
    engine.dispose()
    dump = dump_database(f"sqlite:///{live.as_posix()}", tmp_path / "dump")
    restored = tmp_path / "var" / "restored.db"  # the emergency restore's new database, switched in as the live one
    restore_dump(dump.path, "sqlite", f"sqlite:///{restored.as_posix()}")
    assert _mode(restored) == 0o600 and _mode(restored.parent) == 0o700


def test_a_sqlite_database_made_by_the_migrations_is_private(tmp_path: Path) -> None:
    from rotaflow.db.migrate import upgrade

    path = tmp_path / "var" / "fresh" / "rotaflow.db"  # `rotaflow db upgrade` before any other command
    upgrade(f"sqlite:///{path.as_posix()}")
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
