"""``rotaflow backup …`` and ``rotaflow restore …`` without Prefect: exit codes, the terminal's
confirmation, the deprecated command name (warning and wait), JSON outputs.

The flows themselves run in tests/flows/test_backup_flows.py and test_emergency_restore.py.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

import rotaflow.cli.backup as backup_cli
import rotaflow.cli.restore as restore_cli
from rotaflow.backups.config import load_backup_config, open_tier_store
from rotaflow.backups.sets import create_backup
from rotaflow.cli import main
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused
from rotaflow.flows import restore as restore_flow
from tests.backups_fixtures import content_hashes

NEW_COMMANDS = [
    ["backup"],
    ["backup", "create"],
    ["backup", "list"],
    ["backup", "verify"],
    ["backup", "promote-immaculate"],
    ["backup", "promote"],
    ["backup", "tag"],
    ["restore"],
    ["restore", "emergency"],
    ["restore", "recover"],
    ["restore", "history"],
]


@pytest.fixture
def live(filled_sqlite: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", filled_sqlite)
    get_settings.cache_clear()
    return filled_sqlite


@pytest.fixture
def backup_id(live: str) -> str:
    return create_backup("quick", database_url=live, config=load_backup_config()).backup_id


class NoInput(io.StringIO):
    def readline(self, *args: Any) -> str:
        raise AssertionError("the command asked a question")


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=lambda c: " ".join(c))
def test_every_new_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_the_deprecated_name_is_hidden_from_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "--help"]) == 0
    listed = capsys.readouterr().out
    section = listed.split("Commands:")[1].split("Examples:")[0]
    commands = [line.split()[0] for line in section.splitlines() if line[:3].startswith("  ") and line[2:3].strip()]
    assert "promote-immaculate" in commands and "promote" not in commands


# --------------------------------------------------------------------------- backup create / list / tag


def test_create_list_and_tag(live: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "create", "--no-flow", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["tier"] == "quick" and made["verified"] is True
    assert made["restore_command"] == f"rotaflow restore emergency --source quick --backup-id {made['backup_id']}"

    assert main(["backup", "create", "--tier", "named", "--name", "before the merge", "--no-flow"]) == 0
    printed = capsys.readouterr().out
    assert "(named) verified in" in printed and "restore: rotaflow restore emergency --source named" in printed

    assert main(["backup", "tag", made["backup_id"], "go-live", "--note", "first year", "--json"]) == 0
    tag = json.loads(capsys.readouterr().out)
    assert tag["backup_id"] == made["backup_id"] and tag["tier"] == "quick" and tag["note"] == "first year"
    assert main(["backup", "tag", made["backup_id"], "go-live"]) == 4
    assert "a milestone is never moved" in capsys.readouterr().err

    assert main(["backup", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [b["tier"] for b in listing["backups"]] == ["quick", "named"]
    assert listing["backups"][1]["name"] == "before the merge" and all(b["complete"] for b in listing["backups"])
    assert [t["name"] for t in listing["sacred"]] == ["go-live"]

    assert main(["backup", "list", "--tier", "named"]) == 0
    table = capsys.readouterr().out
    assert "before the merge" in table and made["backup_id"] not in table
    assert main(["backup", "list"]) == 0
    assert "go-live" in capsys.readouterr().out


def test_list_shows_each_id_whole_on_one_line_at_80_columns(
    live: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_backup_config()
    quick = create_backup("quick", database_url=live, config=config).backup_id
    long_name = "before the migration of the rotations and the coverage of year two"  # the id keeps 40 characters
    named = create_backup("named", name=long_name, database_url=live, config=config).backup_id
    assert len(named) > 60
    assert main(["backup", "tag", quick, "milestone-with-a-rather-long-name-for-the-go-live"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(backup_cli.out, "_width", 80)  # the console as an 80-column terminal sees it
    assert main(["backup", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for backup_id in (quick, named):
        assert any(line.startswith(backup_id + " ") for line in lines)  # first on its line, whole
        assert all(backup_id in line for line in lines if backup_id[:20] in line)  # never split over lines
    assert any(line.split()[:2] == [quick, "milestone-with-a-rather-long-name-for-the-go-live"] for line in lines)
    assert any(line.startswith(named) and "named" in line.split()[1:] for line in lines)


def test_create_refuses_what_it_cannot_do(live: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["backup", "create", "--tier", "immaculate", "--no-flow"]) == 2
    assert "'immaculate' is not one of 'quick', 'named'" in capsys.readouterr().err
    assert main(["backup", "create", "--tier", "named", "--no-flow"]) == 4
    assert "a named backup needs a name" in capsys.readouterr().err
    assert main(["backup", "list", "--tier", "weekly"]) == 2
    assert "'weekly' is not one of 'quick', 'named', 'immaculate', 'sacred'" in capsys.readouterr().err
    assert main(["backup", "list", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "an existing backup configuration file" in capsys.readouterr().err


def test_an_incomplete_backup_is_listed_as_such(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_tier_store("quick", load_backup_config())
    (Path(store.url) / backup_id / "CHECKSUM.sha256").unlink()
    assert main(["backup", "list"]) == 0
    piped = capsys.readouterr().out
    assert f"{backup_id}  quick" in piped and piped.rstrip().endswith("INCOMPLETE")
    assert "\x1b[" not in piped  # no colour codes in a pipe or a file

    terminal = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=80)
    monkeypatch.setattr(backup_cli, "out", terminal)
    assert main(["backup", "list"]) == 0
    lines = terminal.file.getvalue().splitlines()  # type: ignore[attr-defined]
    (line,) = [line for line in lines if backup_id in line]
    assert line.startswith(backup_id + " ")  # the id first and whole, as in a pipe
    assert "\x1b[1;31mINCOMPLETE\x1b[0m" in line  # bold red on a terminal


def test_the_sacred_tags_start_with_the_id_they_point_at(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """As docs/operators.md says: each tag's line starts with the id it points at, then the tag's name."""
    assert main(["backup", "tag", backup_id, "go-live"]) == 0
    capsys.readouterr()
    assert main(["backup", "list", "--tier", "sacred"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert re.split(r"\s{2,}", header)[:2] == ["points at", "sacred tag"]
    assert row.split()[:3] == [backup_id, "go-live", "quick"]


# --------------------------------------------------------------------------- backup verify


def test_verify_without_restore_tests_checks_the_checksums_only(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "verify", "--no-flow", "--json"]) == 0
    assert backup_id in [t["backup_id"] for t in json.loads(capsys.readouterr().out)["restore_tests"]]
    assert main(["backup", "verify", "--no-flow", "--no-restore-test", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is True and summary["checked"] == 1 and summary["restore_tests"] == []


def test_verify_reports_staleness_and_damage(live: str, backup_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "verify", "--no-flow", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["ok"] is True and summary["checked"] == 1
    assert summary["tiers"]["quick"]["newest"] == backup_id and summary["tiers"]["quick"]["stale"] is False
    assert summary["stale"] == []  # named and sacred never go stale
    assert summary["not_configured"] == ["immaculate"]  # no S3 settings: not in use, so not stale either
    assert "immaculate" not in captured.err
    assert main(["backup", "verify", "--no-flow"]) == 0
    table = capsys.readouterr().out
    assert "not configured" in table and "stale" not in table

    store = open_tier_store("quick", load_backup_config())
    dump = Path(store.url) / backup_id / "database.sqlite3"
    data = dump.read_bytes()
    dump.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))  # one bit flipped
    assert main(["backup", "verify", "--no-flow"]) == 1
    captured = capsys.readouterr()
    assert "damaged" in captured.out
    assert f"quick/{backup_id}: database.sqlite3 does not match its checksum" in captured.err
    assert "1 backup(s) damaged, incomplete or not restorable" in captured.err


def test_verify_flags_a_sacred_tag_whose_backup_is_gone(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "tag", backup_id, "year-one"]) == 0
    capsys.readouterr()
    shutil.rmtree(Path(open_tier_store("quick", load_backup_config()).url) / backup_id)
    assert main(["backup", "verify", "--no-flow", "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["tiers"]["sacred"]["damaged"] == ["year-one"]
    [problem] = summary["damaged"][0]["problems"]
    assert problem.startswith(f"sacred tag year-one points at {backup_id} in the quick tier: no complete backup")


# --------------------------------------------------------------------------- the deprecated name


def test_the_old_name_warns_waits_and_goes_on(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    monkeypatch.setattr(backup_cli, "deprecation_wait", waits.append)
    # the immaculate tier is a local folder here, so the promotion itself refuses (exit 4)
    assert main(["backup", "promote", backup_id, "--no-flow"]) == 4
    err = capsys.readouterr().err
    assert "DEPRECATED: `rotaflow backup promote` is now `rotaflow backup promote-immaculate`" in err
    assert "Going on in 5 s" in err
    assert waits == [5.0]
    assert "the immaculate tier must be an S3 bucket with Object Lock" in err  # the command did run

    assert main(["backup", "promote-immaculate", backup_id, "--no-flow"]) == 4
    assert "DEPRECATED" not in capsys.readouterr().err and waits == [5.0]


def test_the_real_wait_is_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(backup_cli.time, "sleep", slept.append)
    backup_cli.deprecation_wait(backup_cli.DEPRECATION_WAIT_SECONDS)
    assert slept == [5.0]


def test_a_deprecated_alias_can_be_registered_for_any_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    group = typer.Typer()
    calls: list[str] = []

    def greet(who: str = "world") -> None:
        calls.append(who)

    group.command("greet")(greet)
    backup_cli.deprecated_alias(group, "hello", "greet", greet, prefix="demo")
    waits: list[float] = []
    monkeypatch.setattr(backup_cli, "deprecation_wait", waits.append)
    group(args=["hello", "--who", "ops"], standalone_mode=False)
    assert calls == ["ops"] and waits == [5.0]
    assert "`rotaflow demo hello` is now `rotaflow demo greet`" in capsys.readouterr().err


# --------------------------------------------------------------------------- restore emergency (flow faked)


@pytest.fixture
def fake_flow(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake(source: str, backup_id: str, confirmation: Any, **kwargs: Any) -> Any:
        calls.append({"source": source, "backup_id": backup_id, "confirmation": confirmation, **kwargs})
        result = {"status": "restored", "message": f"restored {backup_id}", "pre_snapshot": "snap", "journal": "j"}
        return SimpleNamespace(result=lambda raise_on_failure=True: result)

    monkeypatch.setattr(restore_flow, "emergency_restore_confirmed", fake)
    return calls


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input is a terminal: the operator types there."""
    monkeypatch.setattr(restore_cli, "stdin_is_terminal", lambda: True)


def test_the_terminal_asks_for_the_backup_id(
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    terminal: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{backup_id}\ny\n"))
    assert main(["restore", "emergency", "--from", "quick", "--backup", backup_id]) == 0
    captured = capsys.readouterr()
    assert "Emergency restore: confirm" in captured.err and "Pre-snapshot" in captured.err
    assert "Type the backup id to restore it" in captured.err
    assert f"restored restored {backup_id}" in captured.out
    assert fake_flow == [
        {
            "source": "quick",
            "backup_id": backup_id,
            "confirmation": restore_flow.OperatorConfirmation(backup_id, "typed"),
            "keep_previous": False,
            "config_path": None,
            "return_state": True,
        }
    ]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ("not-the-id\n", "is not"),
        ("{id}\nn\n", "not confirmed: nothing was changed"),
        ("\n", "'' is not"),
        (" {id}\ny\n", "is not"),
    ],
)
def test_a_wrong_answer_on_the_terminal_changes_nothing(
    answers: str,
    message: str,
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    terminal: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = content_hashes(live)
    monkeypatch.setattr("sys.stdin", io.StringIO(answers.format(id=backup_id)))
    assert main(["restore", "emergency", "--from", "quick", "--backup", backup_id]) == 4
    assert message in capsys.readouterr().err
    assert fake_flow == [] and content_hashes(live) == before


def test_without_a_terminal_the_confirm_id_is_required(
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = content_hashes(live)
    monkeypatch.setattr("sys.stdin", NoInput())
    assert main(["restore", "emergency", "--from", "quick", "--backup", backup_id]) == 4
    message = capsys.readouterr().err
    assert "not a terminal" in message and f"--confirm-id {backup_id}" in message and "nothing was changed" in message
    assert fake_flow == [] and content_hashes(live) == before


def test_the_confirm_id_replaces_the_question_but_the_summary_is_shown(
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", NoInput())
    assert (
        main(["restore", "emergency", "--from", "quick", "--backup", backup_id, "--confirm-id", backup_id, "--json"])
        == 0
    )
    captured = capsys.readouterr()
    assert backup_id in captured.err and "What happens next" in captured.err
    assert json.loads(captured.out)["status"] == "restored"
    assert fake_flow[0]["confirmation"] == restore_flow.OperatorConfirmation(backup_id, "command-line")


def test_the_form_field_names_restore_as_the_old_spellings_do(
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", NoInput())
    args = ["restore", "emergency", "--source", "quick", "--backup-id", backup_id, "--confirm-id", backup_id, "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "restored"
    assert fake_flow[0]["source"] == "quick" and fake_flow[0]["backup_id"] == backup_id


@pytest.mark.parametrize("given", ["20990101T000000Z-quick-abcdef", "{id} ", ""])
def test_a_confirm_id_that_is_not_the_backup_id_is_refused(
    given: str,
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    terminal: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = content_hashes(live)
    monkeypatch.setattr("sys.stdin", NoInput())
    arguments = ["restore", "emergency", "--from", "quick", "--backup", backup_id]
    assert main([*arguments, "--confirm-id", given.format(id=backup_id)]) == 4
    assert f"is not the backup id {backup_id}: nothing was changed" in capsys.readouterr().err
    assert fake_flow == [] and content_hashes(live) == before


def test_the_old_confirm_flag_is_refused_with_the_way_to_go(
    live: str,
    backup_id: str,
    fake_flow: list[dict[str, Any]],
    terminal: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = content_hashes(live)
    monkeypatch.setattr("sys.stdin", NoInput())
    assert main(["restore", "emergency", "--from", "quick", "--backup", backup_id, "--confirm"]) == 2
    assert "--confirm-id" in capsys.readouterr().err
    assert fake_flow == [] and content_hashes(live) == before


def test_a_refusing_gate_exits_4(
    live: str, backup_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(source: str, backup_id: str, confirmation: Any, **kwargs: Any) -> Any:
        error = GateRefused("the disk gate refused: not enough free space; nothing was changed")
        return SimpleNamespace(result=lambda raise_on_failure=True: error)

    monkeypatch.setattr(restore_flow, "emergency_restore_confirmed", refusing)
    assert main(["restore", "emergency", "--from", "quick", "--backup", backup_id, "--confirm-id", backup_id]) == 4
    assert "the disk gate refused" in capsys.readouterr().err


def test_an_unknown_backup_or_source_is_refused_before_anything(
    live: str, fake_flow: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore", "emergency", "--from", "quick", "--backup", "20990101T000000Z-quick-abcdef"]) == 4
    assert "no backup 20990101T000000Z-quick-abcdef in the quick tier" in capsys.readouterr().err
    assert main(["restore", "emergency", "--from", "weekly", "--backup", "x"]) == 2
    assert main(["restore", "emergency", "--from", "sacred", "--backup", "nope"]) == 4
    assert "no sacred tag named 'nope'" in capsys.readouterr().err
    assert main(["restore", "emergency", "--from", "quick", "--backup", " "]) == 4
    assert "name the backup to restore" in capsys.readouterr().err
    assert fake_flow == []


def test_recover_and_history_with_nothing_to_do(live: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["restore", "recover"]) == 0
    assert "no interrupted restore: nothing to recover" in capsys.readouterr().out
    assert main(["restore", "recover", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"outcome": "nothing to recover"}
    assert main(["restore", "history", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_backup_commands_read_another_configuration(
    live: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "backup.yaml"
    config.write_text(f"tiers:\n  quick:\n    location: {tmp_path / 'elsewhere'}\n")
    assert main(["backup", "create", "--no-flow", "--config", str(config), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["location"] == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / made["backup_id"] / "CHECKSUM.sha256").is_file()
    shutil.rmtree(tmp_path / "elsewhere")
