"""The coverage gate: every critical package is measured and at or above its floor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.coverage_gate import FLOORS, main


def _report(tmp_path: Path, lines: dict[str, tuple[int, int]]) -> str:
    """coverage.json with a file per entry: path → (covered lines, statements)."""
    files = {
        name: {"summary": {"covered_lines": covered, "num_statements": statements}}
        for name, (covered, statements) in lines.items()
    }
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps({"files": files}))
    return str(path)


def test_every_package_at_or_above_its_floor_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path, {f"{package}/x.py": (90, 100) for package in FLOORS} | {"rotaflow/cli/x.py": (0, 50)})
    assert main(report) == 0
    assert "coverage rotaflow/constraints/: 90.0% (floor 90%) ok" in capsys.readouterr().out


def test_files_are_counted_in_their_real_folders_and_through_the_package(tmp_path: Path) -> None:
    lines = {"constraints/rules/x.py": (80, 100), "rotaflow/constraints/y.py": (100, 100)}
    report = _report(tmp_path, lines | {"validations/x.py": (9, 10), "backups/x.py": (9, 10)})
    assert main(report) == 0  # 180 of 200 lines: 90 %


def test_a_package_under_its_floor_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(
        tmp_path, {"constraints/rules/x.py": (89, 100), "validations/x.py": (9, 10), "backups/x.py": (9, 10)}
    )
    assert main(report) == 1
    assert "coverage rotaflow/constraints/: 89.0% (floor 90%) BELOW FLOOR" in capsys.readouterr().out


def test_a_package_that_was_not_measured_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(tmp_path, {"constraints/rules/x.py": (100, 100), "validations/x.py": (9, 10)})
    assert main(report) == 1
    assert "coverage rotaflow/backups/: not measured" in capsys.readouterr().out
