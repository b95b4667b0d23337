"""Flow ``ingest_program``: read → contracts → expectations → store, or quarantine."""

from __future__ import annotations

from prefect import flow

from db.repositories import IngestResult
from rotaflow.errors import InputError
from tasks.ingest import (
    check_contracts,
    check_expectations,
    publish_failures,
    publish_ingest_summary,
    quarantine,
    read_bundle,
    store_bundle,
)

__all__ = ["ingest_program"]


@flow(name="ingest-program", log_prints=False)
def ingest_program(program: str) -> IngestResult:
    """Load a program bundle (folder, .zip or s3:// prefix) into the database under contract."""
    files: dict[str, bytes] | None = None
    try:
        files = read_bundle(program)
        bundle = check_contracts(files, program)
        report = check_expectations(bundle)
    except InputError as error:
        where = quarantine(program, error, files)
        publish_failures(error, where)
        raise
    result = store_bundle(bundle, program)
    publish_ingest_summary(program, result, bundle, report)
    return result
