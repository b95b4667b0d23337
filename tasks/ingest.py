"""Thin Prefect tasks of the ingest flow: each calls one function of the service layer."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rotaflow.configs.settings import get_settings
from rotaflow.db.repositories import IngestResult
from rotaflow.errors import InputError
from rotaflow.services import ingest as service
from rotaflow.services.results import phase
from rotaflow.tasks.links import file_link, markdown_link
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.expectations import ExpectationReport
from rotaflow.validations.sources import read_bundle_files

__all__ = [
    "Rejected",
    "check_contracts",
    "check_expectations",
    "publish_failures",
    "publish_ingest_summary",
    "quarantine",
    "read_bundle",
    "store_bundle",
]


# A bundle that breaks its contract is an expected outcome, not a crash: these tasks return
# it as ``Rejected`` instead of raising, so the flow can quarantine it and fail cleanly
# (Prefect treats a returned exception as a failure, hence the wrapper).


@dataclass(frozen=True)
class Rejected:
    """The bundle broke its contract; ``error`` lists every problem."""

    error: InputError


@task(name="read-bundle", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def read_bundle(source: str) -> dict[str, bytes] | Rejected:
    """Fetch the bundle's files from a folder, a .zip or an s3:// prefix (I/O: retried)."""
    try:
        return read_bundle_files(source, settings=get_settings())
    except InputError as error:
        return Rejected(error)


@task(name="check-contracts", cache_policy=NO_CACHE)
def check_contracts(files: dict[str, bytes], source: str) -> Bundle | Rejected:
    """Hold every file to its Pandera contract and the references between files."""
    try:
        with phase("contracts"):  # a block generation's phase (summary.json); else nothing
            bundle = parse_bundle(files, source=source)
    except InputError as error:
        return Rejected(error)
    for note in bundle.notes:  # file and column names only, never cell values
        get_run_logger().warning("%s", note)
    return bundle


@task(name="check-expectations", cache_policy=NO_CACHE)
def check_expectations(bundle: Bundle) -> ExpectationReport | Rejected:
    """Great Expectations suites and steward expectations; builds the Data Docs."""
    try:
        with phase("contracts"):
            return service.check_expectations(bundle, settings=get_settings())
    except InputError as error:
        return Rejected(error)


@task(name="store-bundle", cache_policy=NO_CACHE)
def store_bundle(bundle: Bundle, source: str) -> IngestResult:
    """Write the bundle as the program's next version in one transaction."""
    settings = get_settings()
    return service.save_bundle(bundle, source=source, engine=service.database_engine(settings))


@task(name="quarantine-bundle", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def quarantine(source: str, error: InputError, files: dict[str, bytes] | None) -> str:
    """Copy the rejected bundle and its error report to the quarantine area."""
    return service.quarantine_bundle(source, error, files=files or {}, settings=get_settings())


@task(name="publish-failures", cache_policy=NO_CACHE)
def publish_failures(error: InputError, quarantined_at: str) -> None:
    """A table artifact of every contract failure (no personal data)."""
    create_table_artifact(
        key="ingest-contract-failures",
        table=[p.as_dict() for p in error.problems[:1000]],
        description=f"{len(error.problems)} contract failure(s); bundle quarantined at `{quarantined_at}`",
    )


@task(name="publish-ingest-summary", cache_policy=NO_CACHE)
def publish_ingest_summary(source: str, result: IngestResult, bundle: Bundle, report: ExpectationReport | None) -> None:
    """A markdown artifact of what was loaded and a link to the Data Docs."""
    lines = [
        f"# Ingest of program `{result.program_key}`",
        "",
        f"- source: `{source}`",
        f"- version: **{result.version}** ({'new' if result.created_version else 'unchanged'})",
        "",
        "| dataset | rows | inserted | soft-deleted |",
        "|---|---:|---:|---:|",
    ]
    for name, frame in bundle.frames.items():
        lines.append(f"| {name} | {len(frame)} | {result.inserted.get(name, 0)} | {result.deleted.get(name, 0)} |")
    if report is not None:
        lines += ["", f"Great Expectations: {report.evaluated - report.failed}/{report.evaluated} passed."]
        if report.docs_index is not None:
            lines.append(f"Data Docs: {markdown_link(report.docs_index, 'Great Expectations Data Docs')}")
    create_markdown_artifact(key="ingest-summary", markdown="\n".join(lines), description="What was loaded")
    # a link only where the browser can open it (the reports server of `rotaflow serve`), never file://
    docs = file_link(report.docs_index) if report is not None and report.docs_index is not None else None
    if docs is not None:
        create_link_artifact(
            key="ingest-data-docs",
            link=docs,
            link_text="Great Expectations Data Docs",
            description="Data quality of the ingested bundle",
        )
