"""The command line's own cost: a command imports the heavy libraries (Great Expectations, Prefect, pandas, plotly,
OR-Tools, SQLAlchemy, boto3 …) only when it runs work that needs them, never to register itself, show its help or
print the version. Each case runs in a fresh interpreter, the way a `rotaflow …` command starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "great_expectations",
    "prefect",
    "pandas",
    "pandera",
    "dask",
    "numpy",
    "plotly",
    "ortools",
    "sqlalchemy",
    "alembic",
    "boto3",
    "botocore",
    "httpx",
)
"""Top-level packages the command line's root and its help must leave unimported."""

_PROBE = """
import json, sys
from rotaflow.cli import main
code = {call}
heavy = set(json.loads(sys.argv[1]))
print(json.dumps({{"code": code, "imported": sorted({{m.split(".")[0] for m in sys.modules}} & heavy)}}))
"""


def _imported(call: str, tmp_path: Path) -> tuple[object, list[str]]:
    """Run ``call`` (Python, with ``main`` imported) in a fresh interpreter; its result and the heavy packages
    imported by then."""
    env = {**os.environ, "ROTAFLOW_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "80"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(call=call), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["imported"]


def test_importing_the_command_line_loads_no_heavy_library(tmp_path: Path) -> None:
    code, imported = _imported("None", tmp_path)
    assert code is None and imported == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["validate", "--help"],
        ["ingest", "--help"],
        ["generate", "--help"],
        ["absence", "add", "--help"],
        ["bench", "curtois", "--help"],
        ["backup", "list", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_version_load_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    code, imported = _imported(f"main({args!r})", tmp_path)
    assert code == 0
    assert imported == []


def test_a_command_still_imports_what_its_work_needs(tmp_path: Path) -> None:
    """The probe sees imports: `rotaflow rules` reads the rule registry, which builds on OR-Tools."""
    code, imported = _imported("main(['rules', '--json'])", tmp_path)
    assert code == 0
    assert "ortools" in imported


def test_the_rotaflow_process_for_help_loads_no_heavy_library(tmp_path: Path) -> None:
    """The installed `rotaflow` command itself (its entry point, its exit), as an operator runs it: Python's
    import log (PYTHONPROFILEIMPORTTIME) names every module the process imported."""
    env = {**os.environ, "ROTAFLOW_VAR_DIR": str(tmp_path / "var"), "PYTHONPROFILEIMPORTTIME": "1"}
    env.pop("PREFECT_API_URL", None)
    command = Path(sys.executable).parent / "rotaflow"
    done = subprocess.run(
        [str(command), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: rotaflow" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "rotaflow" in imported and "typer" in imported  # the log is read
    assert sorted(imported & set(HEAVY)) == []
