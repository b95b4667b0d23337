"""``rotaflow restore …``: bring the database back from a backup, through every safety gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import (
    ConfigOption,
    ProgressOption,
    app,
    backup_config_path,
    err,
    examples,
    flow_outcome,
    json_help,
    option_problem,
    out,
    print_json,
    progress_shown,
    stdin_is_terminal,
)
from rotaflow.configs.settings import get_settings
from rotaflow.errors import GateRefused, InputError

restore_app = typer.Typer(
    help="Bring the database back from a backup, through every safety gate.",
    epilog=examples(
        "rotaflow restore emergency --source quick \\",
        "  --backup-id 20261126T101500Z-quick-3fa2c1",
        "rotaflow restore history --last 3",
    ),
    no_args_is_help=True,
)
Source = Literal["quick", "named", "immaculate", "sacred"]
"""Where an emergency restore takes its backup from (the emergency-restore flow's ``source``)."""
app.add_typer(restore_app, name="restore")

EmergencyJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "the restore's summary {status, source, backup_id, message, pre_snapshot, journal, rolled_back, "
            "recovered …}; the plan and the questions still go to standard error"
        ),
    ),
]
RecoverJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "{flow_run_id, outcome, message, interrupted_after, journal_file, dropped, kept}, "
            'or {"outcome": "nothing to recover"}'
        ),
    ),
]
HistoryJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help("a list of journals, oldest first: {started_at, status, backup_id, steps, message …}"),
    ),
]


@restore_app.command(
    "emergency",
    epilog=examples(
        "rotaflow restore emergency --source quick \\",
        "  --backup-id 20261126T101500Z-quick-3fa2c1",
        "rotaflow restore emergency --source sacred --backup-id go-live \\",
        "  --confirm-id go-live",
    ),
)
def restore_emergency(
    source: Annotated[
        Source, typer.Option("--source", "--from", help="the tier (or the sacred tags) the backup is in")
    ],
    backup_id: Annotated[str, typer.Option("--backup-id", "--backup", help="the backup id (for sacred: the tag name)")],
    confirm_id: Annotated[
        str | None,
        typer.Option(
            "--confirm-id",
            help="without a terminal (scripts): the backup id, exactly (for sacred: the id the tag points at); "
            "on a terminal the id is typed instead",
        ),
    ] = None,
    legacy_confirm: Annotated[bool, typer.Option("--confirm", hidden=True, help="removed: use --confirm-id")] = False,
    keep_previous: Annotated[
        bool, typer.Option("--keep-previous", help="keep the replaced database instead of dropping it")
    ] = False,
    config: ConfigOption = None,
    as_json: EmergencyJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Restore the live database from a backup: disk check, verify, pre-snapshot, confirmation (the backup
    id typed, or --confirm-id without a terminal), restore into a new database and switch, verify; rolled
    back automatically when it fails.
    """
    from rich.markdown import Markdown

    from rotaflow.backups.emergency import preview_text
    from rotaflow.flows.restore import OperatorConfirmation, emergency_restore_confirmed

    if legacy_confirm:
        expected = "--confirm-id <the backup id> (--confirm no longer skips the question)"
        raise InputError([option_problem("--confirm", expected, "--confirm")])
    config_path = backup_config_path(config)
    plan, summary = preview_text(source, backup_id, config_path=config_path)
    err.print(Markdown(summary))
    if confirm_id is not None:
        if confirm_id != plan.backup_id:
            raise GateRefused(f"--confirm-id {confirm_id!r} is not the backup id {plan.backup_id}: nothing was changed")
        confirmation = OperatorConfirmation(confirm_id, "command-line")
    elif not stdin_is_terminal():
        raise GateRefused(
            "standard input is not a terminal, so the backup id cannot be typed: run the command at a terminal, "
            f"or pass --confirm-id {plan.backup_id} to confirm it from a script; nothing was changed"
        )
    else:
        typed = typer.prompt("Type the backup id to restore it", default="", show_default=False, err=True)
        if typed != plan.backup_id:
            raise GateRefused(f"the typed id {typed!r} is not {plan.backup_id}: nothing was changed")
        if not typer.confirm("Replace the live database now?", default=False, err=True):
            raise GateRefused("not confirmed: nothing was changed")
        confirmation = OperatorConfirmation(typed, "typed")
    with progress_shown(show_progress, as_json=as_json):
        state = emergency_restore_confirmed(
            source,
            backup_id,
            confirmation,
            keep_previous=keep_previous,
            config_path=config_path,
            return_state=True,
        )
    result = flow_outcome(state)
    if as_json:
        print_json(result)
        return
    out.print(f"[green]restored[/green] {escape(str(result['message']))}", soft_wrap=True)
    out.print(f"pre-snapshot: {result.get('pre_snapshot') or 'none'}; journal: {result.get('journal')}", soft_wrap=True)
    if result.get("recovered"):
        out.print(f"recovered an interrupted restore first: {escape(result['recovered']['message'])}", soft_wrap=True)


@restore_app.command(
    "recover", epilog=examples("rotaflow restore recover", "rotaflow restore recover --config backup.yaml --json")
)
def restore_recover(config: ConfigOption = None, as_json: RecoverJson = False) -> None:
    """Recover a restore that was interrupted (killed): make the live database whole, say what was done."""
    from rotaflow.backups.config import load_backup_config, work_dir
    from rotaflow.backups.emergency import recover_interrupted
    from rotaflow.backups.journal import journal_folder, restore_lock

    config_path = backup_config_path(config)
    backup_config = load_backup_config(Path(config_path) if config_path else None)
    live = get_settings().resolved_database_url
    with restore_lock(journal_folder(work_dir(backup_config), live)):
        recovery = recover_interrupted(live, config=backup_config, config_path=config_path)
    payload = recovery.as_dict() if recovery else {"outcome": "nothing to recover"}
    if as_json:
        print_json(payload)
    elif recovery is None:
        out.print("no interrupted restore: nothing to recover")
    else:
        out.print(f"[bold]{recovery.outcome}[/bold]: {escape(recovery.message)}", soft_wrap=True)
        out.print(f"journal: {recovery.journal_file}", soft_wrap=True)


@restore_app.command("history", epilog=examples("rotaflow restore history", "rotaflow restore history --last 3 --json"))
def restore_history(
    last: Annotated[int, typer.Option("--last", help="how many runs to show")] = 10,
    config: ConfigOption = None,
    as_json: HistoryJson = False,
) -> None:
    """The journals of the last emergency restores of this database: what each did."""
    from rotaflow.backups.config import load_backup_config, work_dir
    from rotaflow.backups.journal import history, journal_folder

    config_path = backup_config_path(config)
    folder = journal_folder(
        work_dir(load_backup_config(Path(config_path) if config_path else None)), get_settings().resolved_database_url
    )
    runs = history(folder)[-max(1, last) :]
    if as_json:
        print_json(runs)
        return
    table = Table("started", "status", "backup", "last step", "message")
    for run in runs:
        table.add_row(
            str(run.get("started_at")),
            str(run.get("status")),
            str(run.get("backup_id")),
            str(run.get("steps", [{}])[-2].get("step") if len(run.get("steps", [])) > 1 else "-"),
            escape(str(run.get("message", ""))[:200]),
        )
    out.print(table)
