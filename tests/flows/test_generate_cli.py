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
    import rotaflow.ingest as ingest_service
    from validations.expectations import ExpectationReport

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
