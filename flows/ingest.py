"""Flow ``ingest_program``: read → contracts → expectations → store, or quarantine."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from rotaflow.db.repositories import IngestResult
from rotaflow.errors import InputError
from rotaflow.flows import outcome
from rotaflow.tasks.arguments import as_is
from rotaflow.tasks.ingest import (
    Rejected,
    check_contracts,
    check_expectations,
    publish_failures,
    publish_ingest_summary,
    quarantine,
    read_bundle,
    store_bundle,
)

__all__ = ["ingest_program"]


@flow(name="ingest-program", log_prints=False, on_failure=[outcome.unreported_failure])
def ingest_program(program: str) -> IngestResult | State:
    """Load a program bundle (folder, .zip or s3:// prefix) into the database under contract."""
    files = read_bundle(program)
    if isinstance(files, Rejected):
        return reject(program, files.error, None)
    bundle = check_contracts(as_is(files), program)
    if isinstance(bundle, Rejected):
        return reject(program, bundle.error, files)
    report = check_expectations(as_is(bundle))
    if isinstance(report, Rejected):
        return reject(program, report.error, files)
    result = store_bundle(as_is(bundle), program)
    result.notes = list(bundle.notes)
    publish_ingest_summary(program, result, as_is(bundle), report)
    kept = "a new version" if result.created_version else "unchanged"
    return outcome.completed(f"ingested {result.program_key}: version {result.version} ({kept})", data=result)


def reject(program: str, error: InputError, files: dict[str, bytes] | None) -> State:
    """Quarantine the bundle, publish its failures and end the run failed (no traceback)."""
    where = quarantine(program, error, files)
    publish_failures(error, where)
    return outcome.failed(
        f"bundle rejected: {len(error.problems)} contract problem(s); bundle quarantined at {where}",
        data=error,
    )
