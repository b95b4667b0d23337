"""``rotaflow backup …``: take, list, check, promote and tag backups."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rotaflow.cli import (
    ConfigOption,
    ProgressOption,
    app,
    backup_config_path,
    err,
    examples,
    flow_outcome,
    json_help,
    out,
    print_json,
    progress_shown,
)
from rotaflow.errors import RotaflowError

backup_app = typer.Typer(
    help="Take, list, check, promote and tag backups (tiers in configs/backup.yaml).",
    epilog=examples("rotaflow backup create --tier named --name before-upgrade", "rotaflow backup list"),
    no_args_is_help=True,
)
Tier = Literal["quick", "named", "immaculate", "sacred"]
"""The backup tiers (``rotaflow.backups.config.TIERS``), as ``backup list --tier`` takes them."""
TakenTier = Literal["quick", "named"]
"""The tiers ``backup create`` takes (the backup flow's ``tier``)."""
app.add_typer(backup_app, name="backup")

FlowOption = Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")]
CreateJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "{backup_id, tier, name, location, alembic_revision, bytes, files, verified, pruned: the quick backup "
            "ids removed, restore_command}"
        ),
    ),
]
ListJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "{backups: list of {tier, backup_id, taken_at, age, complete, name, bytes, alembic_revision}, "
            "sacred: list of {name, backup_id, tier, location, tagged_at, code_version, alembic_revision, "
            "backup_code_version, note}}"
        ),
    ),
]
VerifyJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "{ok, checked, tiers: {tier: {count, incomplete, newest, age_hours, stale_after_hours, stale, configured, "
            "damaged}}, stale: tier names, not_configured: tier names (never stale), damaged: list of {tier, "
            "backup_id, ok, problems}, restore_tests, restore_failed}, "
            "also when damage ends the run with exit code 1"
        ),
    ),
]
PromoteJson = Annotated[
    bool, typer.Option("--json", help=json_help("{backup_id, promoted_from, location, retain_until, notes}"))
]
TagJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help(
            "{name, backup_id, tier, location, tagged_at, code_version, alembic_revision, backup_code_version, note}"
        ),
    ),
]
DEPRECATION_WAIT_SECONDS = 5.0
"""How long a deprecated command name waits after its warning, before it goes on."""


def deprecation_wait(seconds: float) -> None:
    """Wait before a deprecated command goes on (tests replace this function)."""
    time.sleep(seconds)


def deprecated_alias(group: typer.Typer, old: str, new: str, command: Callable[..., Any], *, prefix: str) -> None:
    """Keep the old name ``old`` of a renamed command for a while: hidden from help, it prints a
    deprecation warning, waits ``DEPRECATION_WAIT_SECONDS`` (Ctrl-C stops it) and then runs ``command``.
    """

    @functools.wraps(command)
    def alias(*args: Any, **kwargs: Any) -> Any:
        err.print(
            f"[yellow]DEPRECATED:[/yellow] `rotaflow {prefix} {old}` is now `rotaflow {prefix} {new}`; "
            f"the old name will be removed. Going on in {DEPRECATION_WAIT_SECONDS:g} s (Ctrl-C to stop)…",
            highlight=False,
            soft_wrap=True,
        )
        deprecation_wait(DEPRECATION_WAIT_SECONDS)
        return command(*args, **kwargs)

    group.command(
        old, hidden=True, help=f"Deprecated name of `{new}`.", epilog=examples(f"rotaflow {prefix} {new} --help")
    )(alias)


def _age_text(taken: Any) -> str:
    import datetime as dt

    if taken is None:
        return "?"
    hours = (dt.datetime.now(dt.UTC) - taken).total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


@backup_app.command(
    "create",
    epilog=examples(
        "rotaflow backup create",
        "rotaflow backup create --tier named --name before-upgrade --json",
    ),
)
def backup_create(
    tier: Annotated[
        TakenTier, typer.Option("--tier", help="quick (automatic) or named (before a risky operation)")
    ] = "quick",
    name: Annotated[str | None, typer.Option("--name", help="what the named backup comes before")] = None,
    flow: FlowOption = True,
    config: ConfigOption = None,
    as_json: CreateJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Take a backup of the database, verify it where it is stored, prune the quick tier."""
    config_path = backup_config_path(config)
    with progress_shown(show_progress, as_json=as_json):
        payload = _create(tier, name, flow=flow, config_path=config_path)
    if as_json:
        print_json(payload)
        return
    out.print(
        f"[bold]{payload['backup_id']}[/bold] ({payload['tier']}) verified in {payload['location']}", soft_wrap=True
    )
    if payload["pruned"]:
        out.print(f"pruned {len(payload['pruned'])} old quick backup(s)")
    out.print(f"restore: {payload['restore_command']}", soft_wrap=True, highlight=False)


def _create(tier: TakenTier, name: str | None, *, flow: bool, config_path: str | None) -> dict[str, Any]:
    if flow:
        from rotaflow.flows.backup import backup

        return cast(
            dict[str, Any], flow_outcome(backup(tier=tier, name=name, config_path=config_path, return_state=True))
        )
    from rotaflow.backups.config import load_backup_config
    from rotaflow.services.backup import take_verified_backup

    config = load_backup_config(Path(config_path) if config_path else None)
    return take_verified_backup(tier, name, config=config)


@backup_app.command(
    "list",
    epilog=examples("rotaflow backup list", "rotaflow backup list --tier sacred --json"),
)
def backup_list(
    tier: Annotated[Tier | None, typer.Option("--tier", help="one tier only (default: all)")] = None,
    config: ConfigOption = None,
    as_json: ListJson = False,
) -> None:
    """Every backup of every tier (or one tier), newest last; sacred tags with what they point at. Each id
    comes first on its line, never wrapped or cut (copy it from there)."""
    from rotaflow.backups.config import TIERS, load_backup_config, open_tier_store
    from rotaflow.backups.sets import list_backups
    from rotaflow.backups.tiers import list_sacred

    backup_config = load_backup_config(Path(p) if (p := backup_config_path(config)) else None)
    backups: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for name in [tier] if tier else list(TIERS):
        if name == "sacred":
            tags = [t.__dict__ for t in list_sacred(config=backup_config)]
            continue
        for info in list_backups(open_tier_store(name, backup_config)):
            manifest = info.manifest
            backups.append(
                {
                    "tier": name,
                    "backup_id": info.backup_id,
                    "taken_at": info.taken_at.isoformat() if info.taken_at else None,
                    "age": _age_text(info.taken_at),
                    "complete": info.complete,
                    "name": manifest.name if manifest else None,
                    "bytes": manifest.total_bytes if manifest else None,
                    "alembic_revision": manifest.alembic_revision if manifest else None,
                }
            )
    if as_json:
        print_json({"backups": backups, "sacred": tags})
        return
    rows: list[list[str | Text]] = []
    for item in backups:
        size = "?" if item["bytes"] is None else f"{item['bytes'] / 1024:.0f} KB"
        state = Text(item["name"] or "")
        if not item["complete"]:  # red on a terminal: a set to skip when restoring
            state = Text.assemble(("INCOMPLETE", "bold red"), " ", state)
        rows.append([item["backup_id"], item["tier"], item["age"], size, item["alembic_revision"] or "-", state])
    if rows:
        _print_columns(["backup", "tier", "age", "size", "revision", "name / state"], rows)
    if tags:
        if rows:
            out.print()
        _print_columns(
            ["points at", "sacred tag", "tier", "revision", "tagged at"],
            [[t["backup_id"], t["name"], t["tier"], t["alembic_revision"] or "-", str(t["tagged_at"])] for t in tags],
        )
    if not backups and not tags:
        out.print("no backups")


def _print_columns(header: Sequence[str], rows: Sequence[Sequence[str | Text]]) -> None:
    """Aligned columns, one line per row, never wrapped or cut by the console (the first column, a backup id,
    stays whole on its line at any width: a terminal narrower than the line wraps its end only). A cell given
    as rich ``Text`` keeps its styles (colours on a terminal only); a ``str`` is printed as it is, never read
    as markup."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        text = Text("  ").join(_padded(cell, width) for cell, width in zip(line, widths, strict=True))
        text.rstrip()
        out.print(text, highlight=False, soft_wrap=True)


def _padded(cell: str | Text, width: int) -> Text:
    text = Text(cell) if isinstance(cell, str) else cell.copy()
    text.pad_right(width - len(text))
    return text


@backup_app.command(
    "verify",
    epilog=examples("rotaflow backup verify", "rotaflow backup verify --no-flow --json"),
)
def backup_verify(
    flow: FlowOption = True,
    restore_test: Annotated[
        bool,
        typer.Option(
            "--restore-test/--no-restore-test",
            help="restore the newest backup of each tier of configs/backup.yaml's restore_test into a scratch "
            "database and check it (the default); --no-restore-test checks the checksums only",
        ),
    ] = True,
    config: ConfigOption = None,
    as_json: VerifyJson = False,
) -> None:
    """Re-verify every backup of every tier and say how old each tier's newest backup is."""
    config_path = backup_config_path(config)
    failure: BaseException | None = None
    if flow:
        from rotaflow.flows.backup import verify_backups

        outcome = verify_backups(config_path=config_path, restore_test=restore_test, return_state=True).result(
            raise_on_failure=False
        )
        summary = getattr(outcome, "summary", outcome)
        if isinstance(outcome, BaseException):
            failure = outcome
        if not isinstance(summary, dict):
            raise failure or RotaflowError("verify_backups returned no summary")
    else:
        from rotaflow.backups.config import load_backup_config
        from rotaflow.backups.health import verify_all
        from rotaflow.services.backup import verify_failure

        summary = verify_all(load_backup_config(Path(config_path) if config_path else None), restore=restore_test)
        failure = verify_failure(summary)
    from rotaflow.backups.health import stale_messages

    if as_json:
        print_json(summary)
    else:
        table = Table("tier", "backups", "age (h)", "limit (h)", "state")
        table.add_column("newest", overflow="fold")
        for tier, facts in summary["tiers"].items():
            state = "[yellow]stale[/yellow]" if facts["stale"] else "ok"
            state = state if facts.get("configured", True) else "not configured"
            state = "[red]damaged[/red]" if facts["damaged"] else state
            age = "-" if facts["age_hours"] is None else f"{facts['age_hours']:.1f}"
            limit = "-" if facts["stale_after_hours"] is None else f"{facts['stale_after_hours']:g}"
            table.add_row(tier, str(facts["count"]), age, limit, state, facts["newest"] or "none")
        out.print(table)
        for item in summary["damaged"]:
            err.print(
                f"[red]damaged:[/red] {item['tier']}/{item['backup_id']}: " + escape("; ".join(item["problems"])),
                highlight=False,
                soft_wrap=True,
            )
        for test in summary.get("restore_tests", []):
            what = f"restore test {test['tier']}/{test['backup_id'] or '-'}: "
            if test.get("skipped"):
                out.print(what + escape(f"not run ({test['skipped']})"), highlight=False, soft_wrap=True)
            elif test["ok"]:
                out.print(what + f"restored into a scratch database and checked ({test['tables_checked']} tables)")
            else:
                err.print(
                    f"[red]{escape(what)}failed:[/red] " + escape("; ".join(test["problems"])),
                    highlight=False,
                    soft_wrap=True,
                )
    for line in stale_messages(summary):
        err.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False, soft_wrap=True)
    if failure is not None:
        raise failure


def _promote(
    backup_id: Annotated[str, typer.Argument(help="a quick or named backup id")],
    name: Annotated[str | None, typer.Option("--name", help="a name for the baseline")] = None,
    flow: FlowOption = True,
    config: ConfigOption = None,
    as_json: PromoteJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Make a backup a new immaculate baseline: scratch restore, checks, upload under Object Lock."""
    config_path = backup_config_path(config)
    with progress_shown(show_progress, as_json=as_json):
        payload = _promotion(backup_id, name, flow=flow, config_path=config_path)
    if as_json:
        print_json(payload)
        return
    out.print(
        f"[bold]{payload['backup_id']}[/bold]: immaculate baseline in {payload['location']}, "
        f"locked until {payload['retain_until']}",
        soft_wrap=True,
    )
    for note in payload["notes"]:
        out.print(f"  - {escape(note)}", soft_wrap=True)


def _promotion(backup_id: str, name: str | None, *, flow: bool, config_path: str | None) -> dict[str, Any]:
    if flow:
        from rotaflow.flows.backup import promote_immaculate_flow

        return cast(
            dict[str, Any],
            flow_outcome(promote_immaculate_flow(backup_id, name=name, config_path=config_path, return_state=True)),
        )
    from rotaflow.backups.config import load_backup_config
    from rotaflow.services.backup import promote

    return promote(backup_id, name, config=load_backup_config(Path(config_path) if config_path else None))


backup_app.command(
    "promote-immaculate",
    epilog=examples(
        "rotaflow backup promote-immaculate 20261126T101500Z-quick-3fa2c1",
        "rotaflow backup promote-immaculate ID --name 2027-go-live --json",
    ),
)(_promote)
deprecated_alias(backup_app, "promote", "promote-immaculate", _promote, prefix="backup")


@backup_app.command(
    "tag",
    epilog=examples(
        "rotaflow backup tag 20261126T101500Z-named-go-live-3fa2c1 go-live-2027",
        'rotaflow backup tag ID year-end --note "academic year closed"',
    ),
)
def backup_tag(
    backup_id: Annotated[str, typer.Argument(help="the backup the milestone points at")],
    name: Annotated[str, typer.Argument(help="the milestone's name: lowercase letters, digits, . _ -")],
    note: Annotated[str | None, typer.Option("--note", help="why this is a milestone")] = None,
    config: ConfigOption = None,
    as_json: TagJson = False,
) -> None:
    """Tag a backup as a sacred milestone (never moved): records the code version and Alembic revision."""
    from rotaflow.backups.config import load_backup_config
    from rotaflow.backups.tiers import tag_sacred

    config_path = backup_config_path(config)
    tag = tag_sacred(backup_id, name, note=note, config=load_backup_config(Path(config_path) if config_path else None))
    if as_json:
        print_json(tag.__dict__)
        return
    out.print(
        f"sacred tag [bold]{tag.name}[/bold] → {tag.backup_id} ({tag.tier}), revision {tag.alembic_revision}",
        soft_wrap=True,
    )
