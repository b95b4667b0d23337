"""``rotaflow db …``: create and migrate rotaflow's database (Alembic)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rotaflow.cli import app, backup_config_path, err, examples, json_help, out, print_json, stdin_is_terminal
from rotaflow.configs.settings import get_settings, mask_url
from rotaflow.errors import GateRefused

db_app = typer.Typer(
    help="Create and migrate rotaflow's database (Alembic).",
    epilog=examples("rotaflow db upgrade", "rotaflow db current"),
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

DbJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help=json_help("{database (password masked), revision: the target, current: the revision now (null: none)}"),
    ),
]


def _current_revision(url: str) -> str | None:
    from rotaflow.db.migrate import current_revision
    from rotaflow.db.session import engine_for

    return current_revision(engine_for(url))


@db_app.command("upgrade", epilog=examples("rotaflow db upgrade", "rotaflow db upgrade head --json"))
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head", as_json: DbJsonOption = False
) -> None:
    """Migrate the database up to a revision (default: head)."""
    from rotaflow.db.migrate import upgrade

    url = get_settings().resolved_database_url
    upgrade(url, revision)
    if as_json:
        print_json({"database": mask_url(url), "revision": revision, "current": _current_revision(url)})
        return
    out.print(f"database {mask_url(url)} upgraded to {revision}")


@db_app.command("downgrade", epilog=examples("rotaflow db downgrade -1", "rotaflow db downgrade base --confirm base"))
def db_downgrade(
    revision: Annotated[
        str,
        typer.Argument(
            help="target revision: a revision id, a step such as -1, or base (drops every table); no default",
            show_default=False,
        ),
    ],
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            help="without a terminal: the target again (base needs it: --confirm base); on a terminal it is typed",
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="a backup configuration instead of configs/backup.yaml")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "{database (password masked), revision: the target, current: the revision now (null: none), "
                "backup_id: the named backup taken first (null: nothing to downgrade)}"
            ),
        ),
    ] = False,
) -> None:
    """Migrate the database down to an explicit revision, after a named backup of it (base: typed confirmation)."""
    from rotaflow.backups.config import load_backup_config
    from rotaflow.backups.emergency import name_of
    from rotaflow.db.migrate import downgrade
    from rotaflow.services.backup import take_verified_backup

    url = get_settings().resolved_database_url
    config_path = backup_config_path(config)
    if revision == "base":
        accepted = ("base", name_of(url))
        if confirm is not None:
            given = confirm
        elif stdin_is_terminal():
            given = typer.prompt(
                f"Downgrading to base drops every table of {mask_url(url)}. Type base (or the database name "
                f"{name_of(url)}) to go on",
                default="",
                show_default=False,
                err=True,
            )
        else:
            raise GateRefused(
                "downgrading to base drops every table: standard input is not a terminal, so confirm with "
                "--confirm base; nothing was changed"
            )
        if given not in accepted:
            raise GateRefused(f"{given!r} is not base or {name_of(url)}: nothing was changed")
    elif confirm is not None and confirm != revision:
        raise GateRefused(f"--confirm {confirm!r} is not the target revision {revision}: nothing was changed")
    before = _current_revision(url)
    backup_id: str | None = None
    if before is not None:
        backup_config = load_backup_config(Path(config_path) if config_path else None)
        created = take_verified_backup("named", f"before-db-downgrade-to-{revision}", config=backup_config)
        backup_id = str(created["backup_id"])
        err.print(
            f"named backup {backup_id} taken and verified (restore: {created['restore_command']})",
            highlight=False,
            soft_wrap=True,
        )
    downgrade(url, revision)
    if as_json:
        payload = {"database": mask_url(url), "revision": revision, "current": _current_revision(url)}
        print_json(payload | {"backup_id": backup_id})
        return
    out.print(f"database {mask_url(url)} downgraded to {revision}", soft_wrap=True)


@db_app.command("current", epilog=examples("rotaflow db current", "rotaflow db current --json"))
def db_current(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help("{database (password masked), current: its revision (null: none), head: the code's}"),
        ),
    ] = False,
) -> None:
    """Print the database's Alembic revision and the code's head revision."""
    from rotaflow.db.migrate import head_revision

    url = get_settings().resolved_database_url
    current = _current_revision(url)
    if as_json:
        print_json({"database": mask_url(url), "current": current, "head": head_revision()})
        return
    out.print(f"database: {current or 'none'}; code: {head_revision()}")
