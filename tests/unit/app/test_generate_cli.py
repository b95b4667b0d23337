"""`rotaflow generate` option checks and `rotaflow bench curtois` (no Prefect flow runs here).

The `generate` runs that reach the flow are in tests/flows/test_generate_cli.py (Prefect test harness).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rotaflow.cli import main

CURTOIS = Path("/work/shared/benchmarks/curtois")


@pytest.mark.parametrize("limit", ["0", "-1", "nan"])
def test_generate_refuses_a_time_limit_that_is_not_positive(
    limit: str, tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["generate", "--program", str(tiny_dir), "--block", "B1", "--out", str(out), "--time-limit", limit])
    assert code == 2
    assert "command line, column --time-limit: expected a positive number of seconds" in capsys.readouterr().err
    assert not out.exists()


def test_generate_refuses_an_unknown_contingency(
    tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["generate", "--program", str(tiny_dir), "--block", "B1", "--out", str(out), "--contingency", "n3"])
    assert code == 2
    refused = capsys.readouterr().err
    assert "Invalid value for '--contingency'" in refused and "'n3' is not one of 'none', 'n1', 'n2'" in refused
    assert not out.exists()


def test_generate_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--program" in text and "--block" in text and "--time-limit" in text and "--json" in text
    assert "--contingency" in text


@pytest.mark.skipif(not (CURTOIS / "Instance1.txt").is_file(), reason="the Curtois benchmark files are not here")
def test_bench_curtois_prints_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "curtois", str(CURTOIS / "Instance1.txt"), "--time-limit", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert (result["instance"], result["objective"], result["status"]) == ("Instance1", 607, "optimal")
    assert {"bound", "seconds"} <= set(result) and result["seconds"] < 10


def test_bench_curtois_rejects_a_malformed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "Broken.txt"
    bad.write_text("SECTION_HORIZON\nabc\n")
    assert main(["bench", "curtois", str(bad), "--time-limit", "10"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Broken.txt, row 2, column horizon: expected a whole number of days" in captured.err  # line 2
    assert "expected a SECTION_SHIFTS section" in captured.err


def test_bench_curtois_refuses_a_time_limit_that_is_not_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "curtois", str(CURTOIS / "Instance1.txt"), "--time-limit", "0"]) == 2
    assert "column --time-limit: expected a positive number of seconds" in capsys.readouterr().err


def test_bench_curtois_rejects_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "curtois", str(tmp_path / "Instance99.txt"), "--time-limit", "10"]) == 2
    assert "Instance99.txt" in capsys.readouterr().err


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "curtois"


def test_bench_curtois_writes_the_roster_it_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rotaflow.constraints.curtois import evaluate, load_curtois, roster_from_csv

    out = tmp_path / "Instance2.csv"
    assert main(["bench", "curtois", str(FIXTURES / "Instance2.txt"), "--time-limit", "10", "--roster", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["roster"] == str(out)
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0] == "employee,day,shift"
    keys = [(row.split(",")[0], int(row.split(",")[1])) for row in lines[1:]]
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    evaluation = evaluate(load_curtois(FIXTURES / "Instance2.txt"), roster_from_csv(text, file=out.name))
    assert evaluation.hard_violations == []
    assert evaluation.objective == result["objective"]
    assert [p.name for p in tmp_path.iterdir()] == ["Instance2.csv"]  # no temporary file left behind


def test_bench_curtois_refuses_a_roster_path_that_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "curtois", str(FIXTURES / "Instance1.txt"), "--time-limit", "10", "--roster"]
    assert main([*args, str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"column --roster: expected a file to write, not a folder, got {tmp_path}" in captured.err
    assert main([*args, str(tmp_path / "missing" / "r.csv")]) == 2
    assert "column --roster: expected a file in an existing folder" in capsys.readouterr().err
