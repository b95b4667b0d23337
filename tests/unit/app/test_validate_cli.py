"""``rotaflow validate``: any schedule against a program; exit 0 / 2 / 3; outputs a steward reads."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from rotaflow.cli import main
from tests.schedules import make_solvable, solved_schedule

FINDING_COLUMNS = [
    "rule",
    "severity",
    "person_id",
    "window_start",
    "window_end",
    "value",
    "limit",
    "unit",
    "message",
    "kind",
    "date",
    "shift_id",
]


@pytest.fixture
def solvable(tiny_dir: Path) -> Path:
    return make_solvable(tiny_dir)


@pytest.fixture
def schedule(solvable: Path, tmp_path: Path) -> Path:
    return solved_schedule(solvable, "B1", tmp_path / "assignments.csv")


def _findings(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == FINDING_COLUMNS
        return list(reader)


def test_a_solved_schedule_passes(
    solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), "--block", "B1"]
        + ["--no-flow", "--no-data-docs", "--json", "--contingency", "n1"]
    )
    printed = json.loads(capsys.readouterr().out)
    assert code == 0, [f for f in _findings(out / "findings.csv") if f["severity"] == "violation"]
    assert printed["verdict"] == "passed" and printed["hard_violations"] == 0
    assert printed["period_start"] == "2027-07-01" and printed["period_end"] == "2027-07-28"
    assert printed["blocks"] == ["B1"]
    assert printed["contingency"]["order"] == 1 and "critical" in json.dumps(printed["contingency"])
    assert {p.name for p in out.iterdir()} >= {"findings.csv", "report.html", "validation.json"}
    facts = json.loads((out / "validation.json").read_text())
    assert facts["utilisation_by_block"][0]["block_id"] == "B1"
    assert set(facts["burnout_bands"]) <= {"low", "moderate", "high", "very_high"}
    html = (out / "report.html").read_text()
    assert 'id="plot-coverage"' in html and 'id="plot-hours"' in html and 'id="plot-burnout"' in html


def test_a_schedule_made_elsewhere_needs_only_three_columns(
    solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with schedule.open(newline="") as handle:
        rows = [(r["person_id"], r["date"], r["shift_id"]) for r in csv.DictReader(handle)]
    minimal = tmp_path / "elsewhere.csv"
    minimal.write_text("person_id,date,shift_id\n" + "".join(f"{p},{d},{s}\n" for p, d, s in rows))
    out = tmp_path / "out"
    assert (
        main(["validate", "-p", str(solvable), "-s", str(minimal), "--out", str(out), "--no-flow", "--no-data-docs"])
        == 0
    )
    assert "passed" in capsys.readouterr().out


def test_injected_violations_exit_3_and_are_named(
    solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = schedule.read_text()
    # R3 is on night float in B1: a DAY shift is outside the rotation and overlaps nothing else that day
    # only if R3 has no NIGHT the evening before; pick a date R3 does not work at all
    worked = {line.split(",")[1] for line in text.splitlines()[1:] if line.startswith("R3,")}
    free = next(f"2027-07-{d:02d}" for d in range(2, 28) if f"2027-07-{d:02d}" not in worked)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "person_id,date,shift_id\n"
        + f"R3,{free},DAY\n"
        + "".join(",".join(line.split(",")[:3]) + "\n" for line in text.splitlines()[1:])
    )
    out = tmp_path / "out"
    code = main(
        [
            "validate",
            "-p",
            str(solvable),
            "-s",
            str(bad),
            "--out",
            str(out),
            "--block",
            "B1",
            "--contingency",
            "n1",
            "--no-flow",
            "--no-data-docs",
        ]
    )
    assert code == 3
    violations = [f for f in _findings(out / "findings.csv") if f["severity"] == "violation"]
    assert ("rotation_eligibility", "R3", free) in {(f["rule"], f["person_id"], f["window_start"]) for f in violations}
    assert "hard violation" in capsys.readouterr().err
    # contingency needs a legal schedule to start from: it is skipped, not crashed
    assert "contingency" not in json.loads((out / "validation.json").read_text())


def test_bad_schedule_rows_exit_2_located(solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,date,shift_id\nR1,2027-07-05,DAY\nNOBODY,2027-07-05,DAY\nR2,2027-07-32,DAY\n")
    out = tmp_path / "out"
    assert main(["validate", "-p", str(solvable), "-s", str(bad), "--out", str(out), "--no-flow"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 2, column person_id" in err
    assert "bad.csv, row 3, column date" in err
    assert not out.exists()


def test_missing_schedule_and_bad_options(solvable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert (
        main(["validate", "-p", str(solvable), "-s", str(tmp_path / "nope.csv"), "--out", str(out), "--no-flow"]) == 2
    )
    assert "nope.csv" in capsys.readouterr().err
    args = ["validate", "-p", str(solvable), "-s", str(tmp_path / "x.csv"), "--out", str(out)]
    assert main([*args, "--contingency", "n3"]) == 2
    assert "--contingency" in capsys.readouterr().err
    assert main([*args, "--contingency", "n1"]) == 2
    assert "a block id for the contingency analysis" in capsys.readouterr().err


def test_data_docs_of_the_outputs(
    solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), "--no-flow", "--json"]) == 0
    facts = json.loads((out / "validation.json").read_text())
    docs = Path(facts["data_docs_run"])
    assert docs.is_file()
    assert Path(facts["data_docs"]) == docs.parents[2] / "index.html"  # the site's index
    # the run's own page, named after the program (no run id: a schedule made elsewhere), under the site
    assert docs.parent.name == "tiny-internal-medicine-residency" and docs.parent.parent.name == "runs"
    site = docs.parents[2]
    pages = " ".join(str(p.relative_to(site)) for p in site.rglob("*.html"))
    assert "rotaflow-assignments" in pages and "rotaflow-findings" in pages, pages
    assert "__none__" not in pages
    own = docs.read_text(encoding="utf-8")
    assert "validations/rotaflow-findings/tiny-internal-medicine-residency/" in own
    link = Path(os.path.relpath(docs, out)).as_posix()
    assert f'href="{link}"' in (out / "report.html").read_text()  # report.html links the run's page


@pytest.mark.parametrize("flow", ["--flow", "--no-flow"])
@pytest.mark.parametrize("inside", ["var/objects/backups/quick/b1", "var", "a-file"])
def test_an_out_inside_rotaflows_own_data_or_a_file_exits_2_before_anything_is_written(
    flow: str, inside: str, solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / inside
    if inside == "a-file":
        out.write_text("mine")
    argv = ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), flow, "--no-data-docs"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "command line, column --out" in err and "Traceback" not in err
    if inside == "a-file":
        assert out.read_text() == "mine"
    else:
        assert not (out / "findings.csv").exists() and not (tmp_path / "var" / "objects").exists()


def test_validate_may_still_write_into_a_folder_of_the_users_choice(
    solvable: Path, schedule: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")  # tmp_path holds the schedule and more: not empty
    argv = ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(tmp_path), "--no-flow", "--no-data-docs"]
    assert main(argv + ["--block", "B1"]) == 0
    assert (tmp_path / "findings.csv").is_file() and (tmp_path / "notes.txt").read_text() == "mine"
    own = tmp_path / "var" / "validations" / "check"  # where the validate flow writes by default
    argv = ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(own), "--no-flow", "--no-data-docs"]
    assert main(argv + ["--block", "B1"]) == 0 and (own / "findings.csv").is_file()


def test_the_validate_flow_refuses_rotaflows_own_data_too(solvable: Path, schedule: Path, tmp_path: Path) -> None:
    from rotaflow.errors import InputError
    from rotaflow.flows.validate import validate_schedule

    with pytest.raises(InputError, match="is inside rotaflow's own data"):
        validate_schedule(str(solvable), str(schedule), out_dir=str(tmp_path / "var" / "objects" / "x"))
    assert not (tmp_path / "var" / "objects").exists()


def test_the_command_runs_the_validate_flow_and_agrees_with_no_flow(
    prefect_api: str, solvable: Path, schedule: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As a Prefect flow (the default mode; here on the session's Prefect API, so no temporary API is started
    early), the command loads the flow's modules and gives the summary the --no-flow run gives."""
    summaries = {}
    for mode in ("--flow", "--no-flow"):
        out = tmp_path / mode.strip("-")
        argv = ["validate", "-p", str(solvable), "-s", str(schedule), "--out", str(out), "--block", "B1"]
        assert main([*argv, mode, "--no-data-docs", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["out_dir"] == str(out) and (out / "findings.csv").is_file()
        summaries[mode] = {k: v for k, v in summary.items() if k not in ("out_dir", "seconds")}
    assert summaries["--flow"] == summaries["--no-flow"]
