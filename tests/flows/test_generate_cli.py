"""`rotaflow generate` end to end (it runs the generate_block flow, so it lives with the Prefect harness)."""

from __future__ import annotations

import csv
import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rotaflow.cli import main

# One leaked Prefect client per solver progress point (see test_generate_flow.py): ignore its warning
# and collect the leaked clients before the test ends.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")


@pytest.fixture(autouse=True)
def _collect_leaked_clients() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _no_expectations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the Great Expectations suites (seconds per run; the ingest flow tests cover them)."""
    import rotaflow.services.ingest as ingest_service
    from rotaflow.validations.expectations import ExpectationReport

    monkeypatch.setattr(
        ingest_service, "check_expectations", lambda bundle, settings=None: ExpectationReport(True, [], None, 0, 0)
    )


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


@pytest.fixture
def solvable(tiny_dir: Path) -> Path:
    """The tiny bundle with night cover as a soft target (as shipped, B1 is infeasible)."""
    _edit(tiny_dir / "coverage.csv", "NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1")
    return tiny_dir


def test_generate_writes_the_outputs_and_prints_the_summary_as_json(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["generate", "--program", str(solvable), "--block", "B1", "--out", str(out), "--time-limit", "5", "--json"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for name in ("assignments.csv", "findings.csv", "summary.json", "report.html"):
        assert (out / name).is_file(), name
    assert list((out / "calendars").glob("*.ics"))
    with (out / "assignments.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["date"].startswith("2027-07") for r in rows)

    printed = json.loads(captured.out)
    written = json.loads((out / "summary.json").read_text())
    assert printed["status"] in {"optimal", "feasible"} and printed["hard_violations"] == 0
    assert printed["block_id"] == "B1" and printed["program"] == "tiny-internal-medicine-residency"
    assert {k: v for k, v in printed.items() if k in written} == written
    assert Path(printed["out_dir"]) == out.resolve()
    assert printed["time_limit_seconds"] == 5
    # the defaults: the N-1 contingency analysis, and a quick backup after publishing
    assert printed["validation"]["contingency"]["order"] == 1 and printed["backup"]["tier"] == "quick"


def test_generate_shows_the_solver_and_the_scenarios_while_the_real_flow_runs(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["generate", "--program", str(solvable), "--block", "B1", "--out", str(out), "--time-limit", "5"]
    assert main([*args, "--progress"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"objective\s+\d+\s+·\s+bound\s+\d+", captured.err), captured.err[-2000:]
    assert "N-1 scenarios" in captured.err
    people = (solvable / "people.csv").read_text().splitlines()[1:]
    names = [row.split(",")[1] for row in people if row]
    assert names and not any(name in captured.err for name in names)  # numbers only, never names
    assert "B1" in captured.out and "objective" in captured.out


def test_block_next_before_the_lead_window_generates_nothing(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--program", str(solvable), "--block", "next", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "the next block, B1, starts in" in captured.out and "nothing generated yet" in captured.out
    assert not out.exists()


def test_an_unknown_block_exits_2_naming_the_option(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--program", str(solvable), "--block", "B9", "--out", str(out), "--time-limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "--block" in err and "B9" in err and "B1, B2" in err
    assert not out.exists()


def test_a_bad_bundle_exits_2_with_located_messages(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(tiny_dir / "shifts.csv", "DAY,Day ward,07:00", "DAY,Day ward,7am")
    out = tmp_path / "out"
    assert main(["generate", "--program", str(tiny_dir), "--block", "B1", "--out", str(out), "--time-limit", "5"]) == 2
    err = capsys.readouterr().err
    assert "shifts.csv, row 1, column start" in err and "7am" in err
    assert not out.exists()


def test_an_infeasible_block_exits_3_and_prints_the_diagnosis(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # as shipped, R3 alone on night float cannot cover every night of B1 within the 80-hour rule
    out = tmp_path / "out"
    assert main(["generate", "--program", str(tiny_dir), "--block", "B1", "--out", str(out), "--time-limit", "5"]) == 3
    captured = capsys.readouterr()
    assert "block B1: infeasible" in captured.out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "infeasible" and summary["diagnosis"]
    for item in summary["diagnosis"]:
        assert f"  - {item['message']}" in captured.out
    assert any("R3" in item["message"] for item in summary["diagnosis"])
    assert "error:" in captured.err and str((out / "summary.json").resolve()) in captured.err


# --------------------------------------------------------------------------- the output folder


def _generate(program: Path, out: Path) -> list[str]:
    return ["generate", "--program", str(program), "--block", "B1", "--out", str(out), "--time-limit", "5"]


def _nothing_ran(var: Path) -> bool:
    """No database, no object store: not even the ingest started."""
    return not (var / "rotaflow.db").exists() and not (var / "objects").exists()


def test_an_out_that_is_a_file_exits_2_before_anything_runs(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(_generate(solvable, target)) == 2
    err = capsys.readouterr().err
    assert "command line, column --out" in err and "is a file" in err and "Traceback" not in err
    assert target.read_text() == "mine" and _nothing_ran(tmp_path / "var")


def test_a_non_empty_folder_rotaflow_did_not_create_is_refused(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "summary.json").write_text("my own summary")
    assert main(_generate(solvable, folder)) == 2
    assert "is a non-empty folder rotaflow did not create" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["summary.json"] and (folder / "summary.json").read_text() == (
        "my own summary"
    )
    assert _nothing_ran(tmp_path / "var")


@pytest.mark.parametrize("inside", ["var/objects/backups/quick/run", "var/tmp/run", "var/rotaflow-out", "var"])
def test_a_folder_inside_rotaflows_own_data_is_refused(
    inside: str, solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_generate(solvable, tmp_path / inside)) == 2
    assert "is inside rotaflow's own data" in capsys.readouterr().err
    assert _nothing_ran(tmp_path / "var")


def test_a_symlink_into_the_object_store_is_refused(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "var" / "objects"
    store.mkdir(parents=True)
    link = tmp_path / "looks-harmless"
    link.symlink_to(store, target_is_directory=True)
    assert main(_generate(solvable, link)) == 2
    assert f"{store.resolve()} is inside rotaflow's own data" in capsys.readouterr().err
    assert list(store.iterdir()) == []


def test_the_flow_refuses_a_bad_out_dir_too(solvable: Path, tmp_path: Path) -> None:
    from rotaflow.errors import InputError
    from rotaflow.flows.generate import generate_block

    target = tmp_path / "a-file"
    target.write_text("x")
    state = generate_block(str(solvable), "B1", out_dir=str(target), return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, InputError) and "is a file" in str(error)
    assert _nothing_ran(tmp_path / "var")


def test_the_run_area_is_accepted_and_a_folder_rotaflow_made_is_reused(solvable: Path, tmp_path: Path) -> None:
    from rotaflow.backups.config import load_backup_config, open_tier_store
    from rotaflow.backups.sets import list_backups
    from rotaflow.services.generate import RUN_MARKER

    out = tmp_path / "var" / "runs" / "tiny-B1"
    assert main(_generate(solvable, out)) == 0
    marker = json.loads((out / RUN_MARKER).read_text())
    listed = set(marker["files"])
    assert {"assignments.csv", "summary.json", "findings.csv", "report.html", "validation.json"} <= listed
    assert any(f.startswith("calendars/") and f.endswith(".ics") for f in listed)

    # an earlier run's file that this run will not write again is removed; the operator's own files,
    # a symlink out of the folder and anything else it holds are neither removed nor backed up
    (out / "calendars" / "LEFT.ics").write_text("from an earlier run")
    marker["files"].append("calendars/LEFT.ics")
    (out / RUN_MARKER).write_text(json.dumps(marker))
    (out / "my-notes.txt").write_text("mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "big.bin").write_bytes(b"0" * 1000)
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    assert main(_generate(solvable, out)) == 0
    assert not (out / "calendars" / "LEFT.ics").exists()
    assert (out / "my-notes.txt").read_text() == "mine" and (out / "linked" / "big.bin").exists()

    [newest] = list_backups(open_tier_store("quick", load_backup_config()))[-1:]
    assert newest.manifest is not None
    extras = {f.path.removeprefix("extras/run/") for f in newest.manifest.files if f.role == "extra"}
    assert extras == set(json.loads((out / RUN_MARKER).read_text())["files"])
    assert "my-notes.txt" not in extras and not any(e.startswith("linked") for e in extras)


def test_generate_passes_contingency_and_no_backup_to_the_flow(
    solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rotaflow.backups.config import load_backup_config, open_tier_store
    from rotaflow.backups.sets import list_backups

    out = tmp_path / "out"
    args = ["generate", "--program", str(solvable), "--block-id", "B1", "--out-dir", str(out)]
    code = main([*args, "--time-limit-seconds", "5", "--contingency", "none", "--no-backup"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "published without a backup (--no-backup)" in captured.out
    written = json.loads((out / "summary.json").read_text())
    assert written["published"] is True and written["backup"] == {"skipped": "--no-backup"}  # said, not left empty
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-glance="backup_id" data-value="null">not backed up (--no-backup)</span>' in report
    assert written["validation"].get("contingency") is None  # none: no contingency analysis
    assert list_backups(open_tier_store("quick", load_backup_config())) == []  # no backup taken
