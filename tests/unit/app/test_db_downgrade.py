"""``rotaflow db downgrade``: an explicit target, a typed confirmation for base, a named backup first."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import inspect

import rotaflow.cli.db as db_cli
from rotaflow.backups.config import load_backup_config, open_tier_store
from rotaflow.backups.sets import list_backups
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.db.session import engine_for


class NoInput(io.StringIO):
    def readline(self, *args: Any) -> str:
        raise AssertionError("the command asked a question")


@pytest.fixture
def migrated(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    return get_settings().resolved_database_url


def _tables(url: str) -> set[str]:
    return set(inspect(engine_for(url)).get_table_names())


def _named() -> list[str]:
    return [b.backup_id for b in list_backups(open_tier_store("named", load_backup_config()), read_manifests=False)]


def test_the_target_is_required(migrated: str, capsys: pytest.CaptureFixture[str]) -> None:
    tables = _tables(migrated)
    assert main(["db", "downgrade"]) == 2
    assert "Missing argument 'revision'" in capsys.readouterr().err
    assert _tables(migrated) == tables and _named() == []


def test_base_without_a_terminal_needs_confirm_base(
    migrated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", NoInput())
    tables = _tables(migrated)
    assert main(["db", "downgrade", "base"]) == 4
    assert "--confirm base" in capsys.readouterr().err
    assert main(["db", "downgrade", "base", "--confirm", "0001"]) == 4
    assert "'0001' is not base" in capsys.readouterr().err
    assert _tables(migrated) == tables and _named() == []


@pytest.mark.parametrize("typed", ["base", "rotaflow.db"])
def test_base_on_a_terminal_takes_base_or_the_database_name_then_a_named_backup(
    typed: str, migrated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_cli, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{typed}\n"))
    assert main(["db", "downgrade", "base", "--json"]) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert payload["current"] is None and payload["revision"] == "base"
    assert _named() == [payload["backup_id"]] and "before-db-downgrade-to-base" in payload["backup_id"]
    assert f"named backup {payload['backup_id']} taken and verified" in captured.err
    assert _tables(migrated) <= {"alembic_version"}


def test_a_wrong_answer_on_the_terminal_changes_nothing(
    migrated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_cli, "stdin_is_terminal", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    tables = _tables(migrated)
    assert main(["db", "downgrade", "base"]) == 4
    assert "'yes' is not base or rotaflow.db: nothing was changed" in capsys.readouterr().err
    assert _tables(migrated) == tables and _named() == []


def test_a_failed_backup_downgrades_nothing(migrated: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    config = tmp_path / "backup.yaml"
    config.write_text(yaml.safe_dump({"tiers": {"named": {"location": str(blocked / "named")}}}))
    tables = _tables(migrated)
    assert main(["db", "downgrade", "base", "--confirm", "base", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "downgraded" not in captured.out and "could not write" in captured.err and "named" in captured.err
    assert _tables(migrated) == tables


def test_another_target_takes_a_named_backup_and_its_confirm_must_match(
    migrated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", NoInput())
    assert main(["db", "downgrade", "--confirm", "-2", "--", "-1"]) == 4
    assert "is not the target revision -1" in capsys.readouterr().err
    assert _named() == []
    assert main(["db", "downgrade", "--", "-1"]) == 0
    assert "downgraded to -1" in capsys.readouterr().out
    tables = _tables(migrated)
    assert len(_named()) == 1 and "year_plans" not in tables and "swap_requests" in tables  # one revision down
    assert main(["db", "downgrade", "base", "--confirm", "base"]) == 0  # data left: a second backup first
    assert len(_named()) == 2 and _tables(migrated) <= {"alembic_version"}
    assert main(["db", "downgrade", "base", "--confirm", "base"]) == 0  # nothing left: no backup needed
    assert len(_named()) == 2


def test_on_a_real_terminal_the_target_is_typed(tmp_path: Path) -> None:
    """The command in its own process with a pseudo-terminal as standard input: it asks, and takes base."""
    import os
    import pty
    import subprocess
    import sys

    env = {**os.environ, "ROTAFLOW_VAR_DIR": str(tmp_path / "var"), "NO_COLOR": "1"}
    rotaflow = [sys.executable, "-c", "import sys; from rotaflow.cli import main; sys.exit(main())"]
    subprocess.run([*rotaflow, "db", "upgrade"], env=env, check=True, capture_output=True)
    url = f"sqlite:///{tmp_path / 'var' / 'rotaflow.db'}"
    assert "people" in _tables(url)
    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        [*rotaflow, "db", "downgrade", "base", "--json"],
        env=env,
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    os.write(primary, b"base\n")  # typed ahead: the terminal holds it until the question reads it
    out, err = child.communicate(timeout=120)
    os.close(primary)
    assert child.returncode == 0, err.decode()
    assert "Type base (or the database name rotaflow.db)" in err.decode()
    assert json.loads(out)["current"] is None and _tables(url) <= {"alembic_version"}
