"""``rotaflow history`` and ``rotaflow diff`` on a database where the tiny bundle's block B1 was published."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rotaflow.cli import main
from rotaflow.configs.settings import Settings
from rotaflow.constraints.instance import Cell, Instance
from rotaflow.constraints.solve import SolveResult
from rotaflow.services.generate import load_solver_settings, publish_run, solve_block
from rotaflow.services.ingest import database_engine, ingest_bundle
from rotaflow.services.results import GenerateResult
from rotaflow.validations.instances import block_instance, rules_for
from tests.conftest import TINY
from tests.schedules import load, make_solvable

PROGRAM = "tiny-internal-medicine-residency"


@dataclass(frozen=True)
class Solved:
    instance: Instance
    result: SolveResult


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    """Block B1 of the (solvable) tiny bundle, solved once for the module."""
    folder = make_solvable(Path(shutil.copytree(TINY, tmp_path_factory.mktemp("solve") / "tiny")))
    bundle = load(folder)
    instance = block_instance(bundle, "B1")
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=5))
    assert result.status in {"optimal", "feasible"} and result.cells
    return Solved(instance, result)


@dataclass
class Published:
    bundle: Path
    engine: Engine
    program_version: int
    versions: list[frozenset[Cell]]


@pytest.fixture
def database(tiny_dir: Path, settings: Settings) -> Iterator[Published]:
    """The solvable tiny bundle ingested into the settings' database (the one the commands open)."""
    bundle = make_solvable(tiny_dir)
    engine = database_engine(settings)
    outcome = ingest_bundle(str(bundle), settings=settings, engine=engine, expectations=False)
    yield Published(bundle, engine, outcome.result.version, [])
    engine.dispose()


def _publish(
    db: Published, solved: Solved, cells: frozenset[Cell], *, reason: str, based_on: int | None, **facts: str
) -> None:
    run_id = str(uuid.uuid4())
    result = replace(solved.result, cells=cells)
    summary = GenerateResult.start(
        run_id=run_id,
        program=PROGRAM,
        program_version=db.program_version,
        block_id="B1",
        rules=[],
        time_limit_seconds=5,
    ).solved(result)
    published = publish_run(
        db.engine,
        program_key=PROGRAM,
        version=db.program_version,
        instance=solved.instance,
        result=result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
        reason=reason,
        based_on=based_on,
        **facts,  # type: ignore[arg-type]
    )
    db.versions.append(cells)
    assert published.block_version == len(db.versions)


def _moved(cells: frozenset[Cell]) -> frozenset[Cell]:
    """The schedule with one resident's first shift given to another resident and one more shift dropped."""
    person, day, shift = min(c for c in cells if c[0].startswith("R"))
    other = next(p for p in ("R1", "R2", "R3") if p != person and (p, day, shift) not in cells)
    dropped = max(c for c in cells if c[0] != person)
    return (cells - {(person, day, shift), dropped}) | {(other, day, shift)}


@pytest.fixture
def twice(database: Published, solved: Solved) -> Published:
    """B1 published by a generation (version 1), then by a repair (version 2)."""
    _publish(database, solved, solved.result.cells, reason="generate", based_on=None, actor="rotaflow generate")
    second = _moved(solved.result.cells)
    _publish(
        database, solved, second, reason="repair", based_on=1, actor="rotaflow repair", reference="T-42", note="sick"
    )
    return database


def _history(bundle: Path, block: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["history", "--program", str(bundle), "--block", block, "--json"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _instance(published: Published) -> Instance:
    return block_instance(load(published.bundle), "B1")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- history


def test_history_lists_the_versions_oldest_first(twice: Published, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed, _ = _history(twice.bundle, "B1", capsys)
    assert code == 0
    listed = json.loads(printed)
    first, second = twice.versions
    assert [v["version"] for v in listed] == [1, 2]
    assert [v["reason"] for v in listed] == ["generate", "repair"]
    assert [v["based_on"] for v in listed] == [None, 1]
    assert [v["status"] for v in listed] == ["published", "published"]
    assert (listed[0]["added"], listed[0]["removed"]) == (len(first), 0)
    assert (listed[1]["added"], listed[1]["removed"]) == (len(second - first), len(first - second)) == (1, 2)
    assert (listed[1]["reference"], listed[1]["note"], listed[1]["actor"]) == ("T-42", "sick", "rotaflow repair")
    assert set(listed[0]) == {
        "block_id", "version", "status", "reason", "actor", "created_at", "run_id", "based_on",
        "program_version", "added", "removed", "reference", "note",
    }  # fmt: skip
    assert dt.datetime.fromisoformat(listed[1]["created_at"]).tzinfo is not None


def test_history_prints_a_table(
    twice: Published, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["history", "--program", str(twice.bundle), "--block", "B1"]) == 0
    shown = capsys.readouterr().out  # 80 columns: numbers, dates and reasons whole, the details on lines of their own
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    lines = [line.split() for line in shown.splitlines()]
    first = next(line for line in lines if line[:1] == ["1"])
    second = next(line for line in lines if line[:1] == ["2"])
    assert first[:3] == ["1", "published", today] and dt.time.fromisoformat(first[3])
    assert first[4:7] == ["generate", f"+{len(twice.versions[0])}", "−0"]
    assert second[:2] == ["2", "published"] and second[4:8] == ["repair", "1", "+1", "−2"]
    assert "ref. T-42" in shown and "sick" in shown and "details" in shown
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["history", "--program", str(twice.bundle), "--block", "B1"]) == 0
    wide = capsys.readouterr().out
    assert "actor" in wide and "reference" in wide and "note" in wide and "details" not in wide
    row = next(line.split() for line in wide.splitlines() if line.split()[:1] == ["2"])
    assert row[8:] == ["rotaflow", "repair", "T-42", "sick"]


def test_history_of_a_block_never_published(database: Published, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--program", str(database.bundle), "--block", "B2"]) == 0
    assert "block B2 has no published version yet" in capsys.readouterr().out
    code, printed, _ = _history(database.bundle, "B2", capsys)
    assert (code, json.loads(printed)) == (0, [])


def test_history_of_an_unknown_block_names_the_option(database: Published, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed, err = _history(database.bundle, "B9", capsys)
    assert (code, printed) == (2, "")
    assert "command line, column --block: expected a block id of blocks.csv: B1, B2, got B9" in err


# --------------------------------------------------------------------------- diff


def test_diff_writes_the_symmetric_difference_of_the_last_two(
    twice: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "changes"
    assert main(["diff", "--program", str(twice.bundle), "--block", "B1", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    first, second = twice.versions
    rows = _rows(out / "changes.csv")
    written = {(r["change"], r["person_id"], r["date"], r["shift_id"]) for r in rows}
    instance = _instance(twice)
    expected = {("removed", p, instance.date(d).isoformat(), s) for p, d, s in first - second}
    expected |= {("added", p, instance.date(d).isoformat(), s) for p, d, s in second - first}
    assert written == expected and len(rows) == 3
    assert {(r["from_version"], r["to_version"], r["reason"], r["reference"]) for r in rows} == {
        ("1", "2", "repair", "T-42")
    }
    assert summary == {
        "program": PROGRAM,
        "block_id": "B1",
        "from_version": 1,
        "to_version": 2,
        "added": 1,
        "removed": 2,
        "people": len({p for _, p, _, _ in expected}),
        "out_dir": str(out.resolve()),
        "files": ["changes.csv", "changes.html"],
    }
    page = (out / "changes.html").read_text()
    assert "version 1 → version 2" in page and "T-42" in page
    marker = json.loads((out / ".rotaflow-run.json").read_text())
    assert marker["files"] == ["changes.csv", "changes.html"]


def test_diff_between_chosen_versions_and_its_summary_line(
    twice: Published, solved: Solved, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(twice, solved, solved.result.cells, reason="manual", based_on=2, actor="rotaflow")  # back to version 1's
    out = tmp_path / "changes"
    args = ["diff", "-p", str(twice.bundle), "-b", "B1", "--out", str(out), "--from-version", "1", "--to-version", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "version 1 → 3: +0 −0 shift(s), 0 people affected" in printed and str(out.resolve()) in printed
    assert _rows(out / "changes.csv") == []  # the same shifts: a header alone


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--from-version", "9"],
            "column --from-version: expected a version of the block, got 9 (the block's versions: 1, 2)",
        ),
        (["--to-version", "5"], "column --to-version: expected a version of the block, got 5"),
    ],
)
def test_diff_of_an_unknown_version_names_the_option(
    options: list[str], expected: str, twice: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "changes"
    code = main(["diff", "-p", str(twice.bundle), "-b", "B1", "--out", str(out), *options])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert expected in captured.err
    assert not out.exists()


def test_diff_needs_two_published_versions(
    database: Published, solved: Solved, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(database, solved, solved.result.cells, reason="generate", based_on=None)
    out = tmp_path / "changes"
    assert main(["diff", "-p", str(database.bundle), "-b", "B1", "--out", str(out)]) == 2
    assert "column --from-version: expected a block with two published versions, got block B1 has 1" in (
        capsys.readouterr().err
    )
    assert main(["diff", "-p", str(database.bundle), "-b", "B2", "--out", str(out)]) == 2
    assert "block B2 has 0 published version(s)" in capsys.readouterr().err
    assert main(["diff", "-p", str(database.bundle), "-b", "B9", "--out", str(out)]) == 2
    assert "column --block" in capsys.readouterr().err
    assert not out.exists()


def test_diff_refuses_a_folder_it_did_not_make(
    twice: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    assert main(["diff", "-p", str(twice.bundle), "-b", "B1", "--out", str(out)]) == 2
    assert "column --out" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
