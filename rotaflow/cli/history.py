"""``rotaflow history``: the versions of a block's published schedule."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError

if TYPE_CHECKING:
    from rotaflow.services.versions import VersionInfo
    from rotaflow.validations.bundle import Bundle


def block_bundle(program: str, block: str) -> Bundle:
    """The bundle at ``program``, or ``InputError`` naming ``--block`` (with the known ids) when ``block``
    is not one of its blocks.csv."""
    from rotaflow.services.ingest import load_bundle

    refuse_credentials(program)
    bundle = load_bundle(program, settings=get_settings())
    known = [str(b) for b in bundle.frames["blocks"]["block_id"]]
    if block not in known:
        raise InputError([option_problem("--block", "a block id of blocks.csv: " + ", ".join(known), block)])
    return bundle


@app.command(
    epilog=examples("rotaflow history -p configs/programs/sample -b B1", "rotaflow history -p bundle/ -b B1 --json")
)
def history(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[str, typer.Option("--block", "-b", "--block-id", help="block id from blocks.csv")],
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "a list of the block's versions, oldest first: {block_id, version, status, reason, actor, "
                "created_at, run_id, based_on, program_version, added, removed, reference, note}"
            ),
        ),
    ] = False,
) -> None:
    """List a block's published versions: when, why, by whom, from which version, what changed."""
    from rotaflow.services.ingest import database_engine
    from rotaflow.services.versions import block_versions

    bundle = block_bundle(program, block)
    engine = database_engine(get_settings())
    try:
        versions = block_versions(engine, bundle.program.key, block).versions
    finally:
        engine.dispose()
    if as_json:
        print_json([v.as_dict() for v in versions])
        return
    if not versions:
        out.print(f"block {escape(block)} has no published version yet", highlight=False, soft_wrap=True)
        return
    out.print(_table(f"{bundle.program.key} block {block}", versions, wide=out.width >= WIDE), highlight=False)


WIDE = 120
"""From this console width on, actor, reference and note have a column each; below, they share one."""


def _table(title: str, versions: list[VersionInfo], *, wide: bool) -> Table:
    """The versions as a table that keeps numbers, dates and reasons whole even on 80 columns (narrower than
    ``WIDE``, actor, reference and note share the last column, one line each)."""
    table = Table(title=escape(title), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("version", "status", "created (UTC)", "reason", "from", "+/−"):
        table.add_column(name, no_wrap=True)
    for name in ("actor", "reference", "note") if wide else ("details",):
        table.add_column(name, overflow="fold")
    for v in versions:
        details = [v.actor, v.reference or "", v.note or ""]
        if not wide:
            details = ["\n".join(filter(None, [v.actor, v.reference and f"ref. {v.reference}", v.note]))]
        table.add_row(
            str(v.version),
            v.status,
            v.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            escape(v.reason),
            "" if v.based_on is None else str(v.based_on),
            f"+{v.added} −{v.removed}",
            *(escape(text) for text in details),
        )
    return table
