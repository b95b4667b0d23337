"""``--json`` on every command with a result: standard output holds exactly one JSON document (checked at
the file-descriptor level, so nothing written past Python slips in), messages go to standard error, and
a failure without a result leaves standard output empty.

``ingest``, ``generate`` and ``validate`` runs with ``--json`` are in test_cli.py, test_validate_cli.py,
test_cli_progress.py and tests/flows/test_generate_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from rotaflow.cli import app, main
from rotaflow.configs.settings import get_settings

WITH_RESULTS = [
    ["ingest"],
    ["generate"],
    ["repair"],
    ["validate"],
    ["history"],
    ["diff"],
    ["explain"],
    ["plan-year"],
    ["report", "year"],
    ["rules"],
    ["sample"],
    ["synth"],
    ["db", "upgrade"],
    ["db", "downgrade"],
    ["db", "current"],
    ["bench", "curtois"],
    ["backup", "create"],
    ["backup", "list"],
    ["backup", "verify"],
    ["backup", "promote-immaculate"],
    ["backup", "promote"],
    ["backup", "tag"],
    ["restore", "emergency"],
    ["restore", "recover"],
    ["restore", "history"],
    ["swap", "request"],
    ["swap", "candidates"],
    ["swap", "accept"],
    ["swap", "approve"],
    ["swap", "reject"],
    ["swap", "cancel"],
    ["swap", "undo"],
    ["swap", "list"],
]
LONG = [
    ["generate"],
    ["repair"],
    ["validate"],
    ["backup", "create"],
    ["backup", "promote-immaculate"],
    ["restore", "emergency"],
]


def _command(path: list[str]) -> Any:
    """The click command of ``rotaflow <path>`` (typer bundles its own click: no isinstance checks)."""
    command: Any = typer.main.get_command(app)
    for name in path:
        found = command.commands.get(name)
        assert found is not None, f"no command {' '.join(path)}"
        command = found
    return command


def _option(path: list[str], flag: str) -> Any:
    return next((p for p in _command(path).params if flag in getattr(p, "opts", ())), None)


def _one_document(captured: Any) -> Any:
    """Standard output parsed as one JSON document (json.loads refuses anything around it)."""
    assert captured.out.strip(), f"nothing on standard output; standard error: {captured.err}"
    return json.loads(captured.out)


@pytest.fixture
def live(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    return filled_sqlite


@pytest.mark.parametrize("path", WITH_RESULTS, ids=" ".join)
def test_every_command_with_a_result_takes_json_and_documents_its_shape(
    path: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    option = _option(path, "--json")
    assert option is not None and option.is_flag and option.default is False
    assert option.help and "JSON" in option.help and "{" in option.help  # the shape, in the help
    assert main([*path, "--help"]) == 0
    assert "--json" in capsys.readouterr().out


def _with_json() -> list[list[str]]:
    """Every command (hidden deprecated names too) that takes ``--json``."""

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        found = [path] if any("--json" in getattr(p, "opts", ()) for p in command.params) else []
        for name, sub in (getattr(command, "commands", None) or {}).items():
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(app), [])


def test_every_command_that_takes_json_is_in_the_contract_test() -> None:
    assert sorted(map(tuple, _with_json())) == sorted(map(tuple, WITH_RESULTS))


@pytest.mark.parametrize("path", LONG, ids=" ".join)
def test_long_commands_take_progress_options(path: list[str]) -> None:
    option = _option(path, "--progress")
    assert option is not None and option.default is None  # unset: shown when standard error is a terminal
    assert "--no-progress" in option.secondary_opts and option.help and "--json" in option.help


def test_synth_json(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle"
    assert main(["synth", "--residents", "6", "--faculty", "3", "--seed", "2", "--out", str(out), "--json"]) == 0
    result = _one_document(capfd.readouterr())
    assert result["out_dir"] == str(out.resolve()) and result["seed"] == 2
    assert result["people"] == {"resident": 6, "faculty": 3}
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # not the folder's marker
    assert sorted(result["files"]) == written and "people.csv" in result["files"]


def test_db_json(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--json"]) == 0
    before = _one_document(capfd.readouterr())
    assert before["current"] is None and before["head"] == "0004" and before["database"].startswith("sqlite:///")
    assert main(["db", "upgrade", "--json"]) == 0
    assert _one_document(capfd.readouterr()) | {"database": None} == {
        "database": None,
        "revision": "head",
        "current": "0004",
    }
    assert main(["db", "current", "--json"]) == 0
    assert _one_document(capfd.readouterr())["current"] == "0004"
    assert main(["db", "downgrade", "base", "--confirm", "base", "--json"]) == 0
    downgraded = _one_document(capfd.readouterr())
    assert downgraded["current"] is None and downgraded["backup_id"]


def test_the_database_url_in_json_hides_its_password(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", "postgresql+psycopg://rota:s3cret-pw@127.0.0.1:1/none")
    monkeypatch.setenv("ROTAFLOW_SECRET_KEY", "k7Qx2Lm9Vr4Tz8Wn1Bc6Yd3Hf5Gj0Ps-Ue")
    get_settings.cache_clear()
    assert main(["db", "current", "--json"]) == 1  # no server there: an error, and no result
    captured = capfd.readouterr()
    assert captured.out == "" and "s3cret-pw" not in captured.err and "cannot be used" in captured.err


def test_failures_without_a_result_leave_standard_output_empty(
    tiny_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "Broken.txt"
    bad.write_text("SECTION_HORIZON\nabc\n")
    assert main(["bench", "curtois", str(bad), "--json"]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and "Broken.txt, row 2" in captured.err

    args = ["validate", "-p", str(tiny_dir), "-s", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]
    assert main([*args, "--no-flow", "--json"]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and "none.csv" in captured.err

    assert main(["synth", "--residents", "2", "--out", str(tmp_path / "s"), "--json"]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and "--residents" in captured.err


def test_backup_and_restore_json(live: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "create", "--no-flow", "--json"]) == 0
    made = _one_document(capfd.readouterr())
    assert set(made) == {
        "backup_id",
        "tier",
        "name",
        "location",
        "alembic_revision",
        "bytes",
        "files",
        "verified",
        "pruned",
        "restore_command",
    }
    assert main(["backup", "tag", made["backup_id"], "first-light", "--json"]) == 0
    assert _one_document(capfd.readouterr())["backup_id"] == made["backup_id"]
    assert main(["backup", "list", "--json"]) == 0
    listing = _one_document(capfd.readouterr())
    assert [b["backup_id"] for b in listing["backups"]] == [made["backup_id"]]
    assert listing["backups"][0]["bytes"] == made["bytes"] and listing["sacred"][0]["name"] == "first-light"
    assert main(["backup", "verify", "--no-flow", "--json"]) == 0
    captured = capfd.readouterr()
    verified = _one_document(captured)
    assert verified["ok"] is True
    # the immaculate tier has no S3 here: not configured, so neither stale nor a warning
    assert verified["not_configured"] == ["immaculate"] and not verified["tiers"]["immaculate"]["stale"]
    assert "stale" not in captured.err
    assert main(["restore", "recover", "--json"]) == 0
    assert _one_document(capfd.readouterr()) == {"outcome": "nothing to recover"}
    assert main(["restore", "history", "--json"]) == 0
    assert _one_document(capfd.readouterr()) == []
