"""``rotaflow diff``: what changed between two published versions of a block (changes.csv, changes.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rotaflow.cli import app, examples, json_help, out, print_json
from rotaflow.cli.history import block_bundle
from rotaflow.configs.settings import get_settings


@app.command(
    epilog=examples(
        "rotaflow diff -p configs/programs/sample -b B1 --out out/diff",
        "rotaflow diff -p bundle/ -b B1 --out diff/ --from-version 1 --to-version 3",
    )
)
def diff(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[str, typer.Option("--block", "-b", "--block-id", help="block id from blocks.csv")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for changes.csv and changes.html")],
    from_version: Annotated[
        int | None, typer.Option("--from-version", help="the earlier version (default: the one before --to-version)")
    ] = None,
    to_version: Annotated[
        int | None, typer.Option("--to-version", help="the later version (default: the block's current one)")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help("{program, block_id, from_version, to_version, added, removed, people, out_dir, files}"),
        ),
    ] = False,
) -> None:
    """Write what changed between two published versions of a block: changes.csv and changes.html."""
    from rotaflow.services.changes import change_rows, write_changes
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files
    from rotaflow.services.ingest import database_engine
    from rotaflow.services.versions import block_versions, version_pair

    bundle = block_bundle(program, block)
    check_out_dir(out_dir)  # refused before anything is read from the database
    key = bundle.program.key
    engine = database_engine(get_settings())
    try:
        first, second = version_pair(engine, key, block, from_version, to_version)
        infos = {v.version: v for v in block_versions(engine, key, block).versions}
    finally:
        engine.dispose()
    later = infos[second.number]
    reason, reference = later.reason, later.reference or ""
    rows = change_rows(
        first.cells,
        second.cells,
        from_version=first.number,
        to_version=second.number,
        reason=reason,
        reference=reference,
    )
    shifts = bundle.frames["shifts"]
    labels = {str(s): str(n) for s, n in zip(shifts["shift_id"], shifts["name"], strict=True)}
    folder = claim_out_dir(out_dir)
    files = write_changes(
        folder,
        rows,
        program=key,
        block_id=block,
        from_version=first.number,
        to_version=second.number,
        reason=reason,
        reference=reference,
        shift_labels=labels,
    )
    record_run_files(folder, files)
    summary: dict[str, Any] = {
        "program": key,
        "block_id": block,
        "from_version": first.number,
        "to_version": second.number,
        "added": sum(1 for r in rows if r["change"] == "added"),
        "removed": sum(1 for r in rows if r["change"] == "removed"),
        "people": len({r["person_id"] for r in rows}),
        "out_dir": str(folder),
        "files": [p.name for p in files],
    }
    if as_json:
        print_json(summary)
        return
    out.print(
        f"[bold]{escape(key)}[/bold] block {escape(block)}: version {first.number} → {second.number}: "
        f"+{summary['added']} −{summary['removed']} shift(s), {summary['people']} people affected",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"outputs: {escape(str(folder))}", highlight=False, soft_wrap=True)
