"""The command line's help: every command's and group's, at 80 columns (no cut text, no "<bool>", texts shown as
written, examples at the end), the options with a fixed set of values, and the options named as the Prefect
deployments' form fields (docs/formats.md, "The command line")."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer.main

from rotaflow.cli import app, main


def _commands() -> Iterator[tuple[list[str], Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


COMMANDS = [(path, command) for path, command in _commands()]
SHOWN = [(path, command) for path, command in COMMANDS if not command.hidden]


def _help(path: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


def _flat(text: str) -> str:
    """The text without any whitespace: what survives wrapping at any width, hyphen breaks included."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def test_ingest_help_shows_square_brackets_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(["ingest"], capsys).split())
    assert "notes: [added files and columns accepted but not read]}" in text


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(path) or "rotaflow" for path, _ in COMMANDS])
def test_help_at_80_columns_is_whole_and_wrapped(
    path: list[str], command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(path, capsys)
    assert "<bool>" not in text  # a flag takes no value
    assert all(len(line) <= 80 for line in text.splitlines()), [line for line in text.splitlines() if len(line) > 80]
    flat = _flat(text)
    assert _flat(inspect.cleandoc(command.help or "").split("\n\n")[0]) in flat
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        assert all(_flat(name) in flat for name in [*param.opts, *param.secondary_opts]), param.name
        assert _flat(param.help or "") in flat, f"{param.name}'s help is cut"
    for sub in (getattr(command, "commands", None) or {}).values():
        if not sub.hidden:  # a group lists each command with its whole first paragraph
            assert _flat(inspect.cleandoc(sub.help).split("\n\n")[0]) in flat, sub.name


def test_the_progress_option_shows_its_environment_variable_whole(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(["generate"], capsys)
    assert "ROTAFLOW_PROGRESS=always|never" in text and "…" not in text.split("--progress")[1]


@pytest.mark.parametrize("path, command", SHOWN, ids=[" ".join(path) or "rotaflow" for path, _ in SHOWN])
def test_help_ends_with_examples(path: list[str], command: Any, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(path, capsys)
    head, examples = text.rsplit("Examples:", 1)
    assert "Options:" in head  # the examples come last
    lines = [line.strip() for line in examples.strip().splitlines()]
    commands = [line for line in lines if line.startswith("rotaflow")]
    assert 1 <= len(commands) <= 2
    assert all(line.startswith(" ".join(["rotaflow", *path])) for line in commands)
    assert all(line.startswith("rotaflow") or line.startswith("--") for line in lines)  # one command a line


def _option(path: list[str], name: str) -> Any:
    command: Any = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]
    found = [p for p in command.params if name in [*p.opts, *p.secondary_opts]]
    return found[0] if found else None


CHOICES = [
    (["generate", "-p", "x", "-b", "B1", "--out", "o"], "--contingency", ["none", "n1", "n2"], "n3"),
    (["repair", "-p", "x", "-b", "B1", "--out", "o"], "--contingency", ["none", "n1", "n2"], "N1"),
    (["validate", "-p", "x", "-s", "s.csv", "--out", "o"], "--contingency", ["none", "n1", "n2"], "n-1"),
    (["plan-year", "-p", "x", "--out", "o"], "--vacation", ["hard", "soft"], "maybe"),
    (["backup", "create"], "--tier", ["quick", "named"], "sacred"),
    (["backup", "list"], "--tier", ["quick", "named", "immaculate", "sacred"], "weekly"),
    (["restore", "emergency", "--backup", "x"], "--from", ["quick", "named", "immaculate", "sacred"], "nightly"),
    (["restore", "emergency", "--backup-id", "x"], "--source", ["quick", "named", "immaculate", "sacred"], "s3"),
]


@pytest.mark.parametrize("args, option, choices, bad", CHOICES, ids=lambda v: v if isinstance(v, str) else None)
def test_options_with_a_fixed_set_list_it_and_refuse_the_rest(
    args: list[str], option: str, choices: list[str], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = [a for a in args[:2] if not a.startswith("-")]
    assert f"<{'|'.join(choices)}>" in _help(path, capsys)
    assert main([*args, option, bad]) == 2
    refused = capsys.readouterr().err
    assert "Invalid value for '" in refused and option in refused.split("Invalid value for")[1]
    assert f"': '{bad}' is not one of " + ", ".join(f"'{c}'" for c in choices) + "." in refused  # nothing between


def test_the_choices_are_the_services_own() -> None:
    from rotaflow.backups.config import TIERS
    from rotaflow.backups.emergency import SOURCES
    from rotaflow.cli.backup import TakenTier, Tier
    from rotaflow.cli.generate import Contingency
    from rotaflow.cli.restore import Source
    from rotaflow.cli.swap import STATE_NAMES
    from rotaflow.flows.backup import backup
    from rotaflow.flows.generate import generate_block
    from rotaflow.services.swap_board import STATES

    assert typing.get_args(Tier) == TIERS and tuple(typing.get_args(Source)) == tuple(SOURCES)
    assert STATE_NAMES == STATES
    assert typing.get_args(Contingency) == typing.get_args(typing.get_type_hints(generate_block.fn)["contingency"])
    assert typing.get_args(TakenTier) == typing.get_args(typing.get_type_hints(backup.fn)["tier"])


def test_swap_list_names_the_states_it_takes(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(["swap", "list"], capsys).split())
    assert "requested, accepted, approved, executed, undone, refused, rejected, cancelled, expired" in text


# --------------------------------------------------------------------------- the Prefect forms' names


def _flows() -> dict[str, Callable[..., Any]]:
    from rotaflow.flows.absence_repair import absence_repair
    from rotaflow.flows.backup import backup, verify_backups
    from rotaflow.flows.generate import generate_block
    from rotaflow.flows.ingest import ingest_program
    from rotaflow.flows.repair import repair_block
    from rotaflow.flows.restore import emergency_restore
    from rotaflow.flows.swap import shift_swap
    from rotaflow.flows.validate import validate_schedule
    from rotaflow.flows.year import year_planning

    return {
        "ingest_program": ingest_program.fn,
        "generate_block": generate_block.fn,
        "repair_block": repair_block.fn,
        "validate_schedule": validate_schedule.fn,
        "year_planning": year_planning.fn,
        "backup": backup.fn,
        "verify_backups": verify_backups.fn,
        "emergency_restore": emergency_restore.fn,
        "absence_repair": absence_repair.fn,
        "shift_swap": shift_swap.fn,
    }


# flow → the commands that take its form's fields, and the fields no command takes (with why)
FORMS: list[tuple[str, list[list[str]], set[str]]] = [
    ("ingest_program", [["ingest"]], set()),
    ("generate_block", [["generate"]], {"next_within_days"}),  # the deployment's lead window for --block next
    ("repair_block", [["repair"]], set()),
    ("validate_schedule", [["validate"]], {"history", "extra"}),  # set by generate and repair, not by hand
    ("year_planning", [["plan-year"]], set()),
    ("backup", [["backup", "create"]], {"extras"}),  # the run's outputs, added by generate
    ("verify_backups", [["backup", "verify"]], set()),
    # the confirmation's wait: the command line asks at once (typed id or --confirm-id)
    ("emergency_restore", [["restore", "emergency"]], {"confirm_timeout_seconds", "confirm_poll_seconds"}),
    # absence add records it, repair repairs; the form's approval wait has no command-line counterpart
    ("absence_repair", [["absence", "add"], ["repair"]], {"approval_timeout_hours"}),
    # swap request files it, swap accept takes it (its id is the argument of accept, approve, …)
    ("shift_swap", [["swap", "request"], ["swap", "accept"]], {"swap_id", "approval_timeout_hours"}),
]


@pytest.mark.parametrize("flow, paths, left", FORMS, ids=lambda v: v if isinstance(v, str) else None)
def test_every_form_field_is_a_command_line_option_of_the_same_name(
    flow: str, paths: list[list[str]], left: set[str]
) -> None:
    fields = set(inspect.signature(_flows()[flow]).parameters) - left
    options = {
        name
        for path in paths
        for name, param in ((n, _option(path, "--" + n.replace("_", "-"))) for n in fields)
        if param is not None
    }
    assert fields - options == set(), f"form fields of {flow} without a --same-name option"


ALIASES = [
    (["restore", "emergency"], "--source", "--from"),
    (["restore", "emergency"], "--backup-id", "--backup"),
    (["generate"], "--block-id", "--block"),
    (["generate"], "--out-dir", "--out"),
    (["generate"], "--time-limit-seconds", "--time-limit"),
    (["repair"], "--from-date", "--from"),
    (["backup", "create"], "--config-path", "--config"),
    (["absence", "add"], "--person-id", "--person"),
    (["swap", "request"], "--with-person-id", "--with"),
    (["swap", "accept"], "--accepted-by", "--by"),
    (["explain"], "--person-id", "--person"),
    (["explain"], "--shift-id", "--shift"),
    (["explain"], "--block-id", "--block"),
]


@pytest.mark.parametrize("path, name, old", ALIASES, ids=lambda v: v if isinstance(v, str) else None)
def test_the_old_spelling_stays_the_same_option(path: list[str], name: str, old: str) -> None:
    new, former = _option(path, name), _option(path, old)
    assert new is not None and former is not None and new.name == former.name
