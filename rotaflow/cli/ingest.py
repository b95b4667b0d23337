"""``rotaflow ingest``: load a program bundle into the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import app, err, examples, json_help, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings, mask_url

if TYPE_CHECKING:
    from rotaflow.db.repositories import IngestResult


@app.command(
    epilog=examples(
        "rotaflow ingest --program configs/programs/sample", "rotaflow ingest -p bundle.zip --no-flow --json"
    )
)
def ingest(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")] = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "{program, version, new_version, inserted: {dataset: rows}, soft_deleted: {dataset: rows}, "
                "rows: {file: rows} (empty with --flow), data_docs, database, notes: [added files and "
                "columns accepted but not read]}"
            ),
        ),
    ] = False,
) -> None:
    """Load a program bundle into the database under its contract."""
    refuse_credentials(program)
    if flow:
        from rotaflow.flows.ingest import ingest_program

        result = cast("IngestResult", ingest_program(program))
        counts: dict[str, int] = {}
        docs = get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    else:
        from rotaflow.services.ingest import ingest_bundle

        outcome = ingest_bundle(program)
        result, counts = outcome.result, outcome.row_counts
        report = outcome.expectations
        docs = report.docs_index if report and report.docs_index else docs_path()
    payload = {
        "program": result.program_key,
        "version": result.version,
        "new_version": result.created_version,
        "inserted": result.inserted,
        "soft_deleted": result.deleted,
        "rows": counts,
        "data_docs": str(docs),
        "database": mask_url(get_settings().resolved_database_url),
        "notes": result.notes,
    }
    for note in result.notes:  # added files and columns: accepted, not read
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(payload)
        return
    state = "new version" if result.created_version else "unchanged"
    out.print(f"[bold]{result.program_key}[/bold]: version {result.version} ({state})")
    if result.created_version:
        table = Table("dataset", "inserted", "soft-deleted")
        for name in result.inserted:
            table.add_row(name, str(result.inserted[name]), str(result.deleted.get(name, 0)))
        out.print(table)
    out.print(f"Data Docs: {docs}")


def docs_path() -> Path:
    return get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
