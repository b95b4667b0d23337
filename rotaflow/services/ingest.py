"""Ingest service: the steps that take a program bundle into the database.

Each step is a plain function the Prefect tasks call one by one; ``ingest_bundle`` chains
them for callers without Prefect (benchmarks, tests of the contract). A bundle that breaks
its contract is copied, with its error report, to ``quarantine/`` in the object store and
nothing is written to the database.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotaflow.configs.settings import Settings, get_settings, mask_url
from rotaflow.db.repositories import IngestResult, ProgramRepository, store_bundle_frames
from rotaflow.db.session import Engine, IntegrityError, UnitOfWork, engine_for
from rotaflow.errors import ConfigError, InputError, Problem, StorageError
from rotaflow.services.calendars import CalendarLabels
from rotaflow.storage import ObjectStore, open_store
from rotaflow.validations.bundle import Bundle, parse_bundle, personal_values
from rotaflow.validations.expectations import ExpectationReport, run_expectations
from rotaflow.validations.sources import read_bundle_files

log = logging.getLogger(__name__)

__all__ = [
    "IngestOutcome",
    "check_expectations",
    "database_engine",
    "ingest_bundle",
    "load_bundle",
    "quarantine_bundle",
    "require_ingested",
    "save_bundle",
]


@dataclass
class IngestOutcome:
    """What one ingest did."""

    source: str
    result: IngestResult
    expectations: ExpectationReport | None
    row_counts: dict[str, int] = field(default_factory=dict)


def database_engine(settings: Settings) -> Engine:
    """The app database, migrated to head when it is the embedded default."""
    from rotaflow.db.migrate import current_revision, head_revision, upgrade  # Alembic: only for the database

    settings.check_secrets()
    url = settings.resolved_database_url
    engine = engine_for(url, settings.pool_size, settings.max_overflow)
    head = head_revision()
    current = current_revision(engine)
    if current != head:
        if settings.is_embedded_database:
            upgrade(url)
        else:
            raise ConfigError(
                f"the database at {mask_url(url)} is at revision {current or 'none'}, "
                f"the code needs {head}: run `rotaflow db upgrade` first"
            )
    return engine


def load_bundle(source: str, *, settings: Settings | None = None, year_plan: bool = True) -> Bundle:
    """Read the bundle at ``source`` and hold every file to its contract. When its rotation_assignments.csv
    leaves a resident without a row for some block, the program's published year plan (if any) comes with it
    (``Bundle.plan``): the rows it leaves out are taken from the plan. ``year_plan=False`` reads the files alone
    (planning the year needs no database)."""
    settings = settings or get_settings()
    files = read_bundle_files(source, settings=settings)
    bundle = parse_bundle(files, source=source)
    if not year_plan or not bundle.unassigned():
        return bundle
    from rotaflow.services.year import checked_plan, published_plan

    engine = database_engine(settings)
    try:
        plan = published_plan(engine, bundle.program.key)
    finally:
        engine.dispose()
    return bundle if plan is None else dataclasses.replace(bundle, plan=checked_plan(bundle, plan))


def require_ingested(
    engine: Engine, bundle: Bundle, source: str, *, file: str = "command line", column: str = "--program"
) -> None:
    """Refuse a bundle that differs from its program's current ingested version (its ``content_hash``): the
    program's rules and swap policy come from the bundle, and the published schedule was made and checked
    under the version ingested. ``InputError`` naming ``column`` of ``file`` (the option, or a form's field)
    when it differs; nothing when the program was never ingested (the callers' own errors say so)."""
    with UnitOfWork(engine) as uow:
        programs = ProgramRepository(uow.s)
        program = programs.get(bundle.program.key)
        if program is None:
            return
        current = programs.version(program.id, program.current_version)
        ingested = None if current is None else current.content_hash
        version = program.current_version
    if ingested is None or ingested == bundle.content_hash:
        return
    shown = mask_url(source) if source.startswith("s3://") else source
    expected = f"the bundle as last ingested (version {version})"
    got = (
        f"{shown} differs from it: run `rotaflow ingest --program {shown}` first "
        "(`rotaflow generate` and `rotaflow repair` ingest it too)"
    )
    raise InputError([Problem(file, None, column, expected, got)])


def check_expectations(bundle: Bundle, *, settings: Settings | None = None) -> ExpectationReport:
    """Run the GX suites and steward expectations; raise InputError on an error-level failure."""
    settings = settings or get_settings()
    report = run_expectations(bundle.frames, gx_dir=settings.resolved_gx_dir, run_name=f"{bundle.program.key}-ingest")
    if report.problems:
        raise InputError(report.problems, personal=personal_values(bundle.files))
    return report


def save_bundle(bundle: Bundle, *, source: str, engine: Engine, actor: str = "rotaflow ingest") -> IngestResult:
    """Write the bundle as the program's next version in one transaction."""
    for attempt in (1, 2):
        try:
            with UnitOfWork(engine) as uow:
                result = store_bundle_frames(
                    uow.s,
                    key=bundle.program.key,
                    name=bundle.program.name,
                    timezone=bundle.program.timezone,
                    settings={
                        "acgme": bundle.program.acgme.model_dump(),
                        "constraints": bundle.constraints or {},
                        # a changed swap policy is a new version: swaps check the bundle against it
                        "swaps": bundle.program.swaps.model_dump(),
                        # the calendars' locations (shifts.csv's, rotations.csv's), only when the bundle gives some
                        **_locations(bundle),
                    },
                    frames=bundle.frames,
                    content_hash=bundle.content_hash,
                    source=_public_source(source),
                    actor=actor,
                )
                uow.commit()
            return result
        except IntegrityError:
            if attempt == 2:  # a concurrent ingest created the same program: retried once above
                raise
    raise AssertionError("unreachable")


def _locations(bundle: Bundle) -> dict[str, Any]:
    found = CalendarLabels.of_bundle(bundle).locations()
    return {"locations": found} if found else {}


def _public_source(source: str) -> str:
    if source.startswith("s3://"):
        return mask_url(source)  # credentials in the address are never stored
    return str(Path(source).resolve())


def quarantine_bundle(
    source: str,
    error: InputError,
    *,
    files: dict[str, bytes] | None = None,
    store: ObjectStore | None = None,
    settings: Settings | None = None,
) -> str:
    """Copy a rejected bundle and its error report to ``quarantine/…``; return that prefix."""
    settings = settings or get_settings()
    store = store or open_store(settings.resolved_object_store, settings=settings)
    files = files if files is not None else _best_effort_files(source, settings)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    prefix = f"quarantine/{stamp}-{digest.hexdigest()[:12]}"
    for name, data in files.items():
        store.put_bytes(f"{prefix}/bundle/{name}", data)
    report = {
        "source": _public_source(source),
        "rejected_at": stamp,
        "problems": [p.as_dict() for p in error.problems],
    }
    store.put_bytes(f"{prefix}/errors.json", json.dumps(report, indent=2).encode())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["file", "row", "column", "expected", "got"])
    writer.writeheader()
    for problem in error.problems:
        writer.writerow({key: _spreadsheet_safe(value) for key, value in problem.as_dict().items()})
    store.put_bytes(f"{prefix}/errors.csv", buffer.getvalue().encode())
    return prefix


_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` (or tab, CR) gets a ``'`` before it.

    errors.csv is opened in spreadsheets; a cell starting so would be run as a formula (OWASP:
    CSV injection). Numbers (the row) are left as they are.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value


def _best_effort_files(source: str, settings: Settings) -> dict[str, bytes]:
    try:
        return read_bundle_files(source, settings=settings)
    except InputError:
        return {}


def ingest_bundle(
    source: str,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    expectations: bool = True,
    store: ObjectStore | None = None,
) -> IngestOutcome:
    """Read, check and store a bundle; quarantine it and raise InputError when it is bad."""
    settings = settings or get_settings()
    files: dict[str, bytes] | None = None
    try:
        files = read_bundle_files(source, settings=settings)
        bundle = parse_bundle(files, source=source)
        report = check_expectations(bundle, settings=settings) if expectations else None
    except InputError as error:
        try:
            quarantine_bundle(source, error, files=files or {}, store=store, settings=settings)
        except StorageError as storage_error:
            log.warning("the rejected bundle could not be quarantined: %s", storage_error)
        raise
    # the database is opened (and, when embedded, created) only for a bundle that passed
    result = save_bundle(bundle, source=source, engine=engine or database_engine(settings))
    result.notes = list(bundle.notes)
    counts = {name: len(frame) for name, frame in bundle.frames.items()}
    return IngestOutcome(source=source, result=result, expectations=report, row_counts=counts)
