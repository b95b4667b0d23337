"""Restore a fetched backup into a new database, check it, and switch it in.

Never a half-restored live database: ``restore_into`` only ever creates a new database
(a fresh PostgreSQL database, a new SQLite file); ``swap_in`` then makes it the live
one by rename and keeps the previous live database under a recoverable name until the
caller has verified the result and calls ``retire_previous`` (or ``undo_swap``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from rotaflow.backups.config import BackupConfig, load_backup_config
from rotaflow.backups.databases import (
    Swap,
    database_at,
    dialect_of,
    drop_database,
    restore_dump,
    sibling_url,
    stamp,
    swap_databases,
    table_stats,
    unpooled_engine,
)
from rotaflow.backups.manifest import Manifest
from rotaflow.backups.sets import FetchedBackup
from rotaflow.backups.verify import VerifyReport
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused, RotaflowError

LOG = logging.getLogger(__name__)

__all__ = [
    "Swap",
    "contract_problems_in_database",
    "restore_into",
    "retire_previous",
    "staging_url",
    "swap_in",
    "undo_swap",
    "verify_restored",
    "warm_up_contracts",
]


def staging_url(live_url: str, now: dt.datetime | None = None) -> str:
    """Where a restore for ``live_url`` goes first: a new database beside it."""
    return sibling_url(live_url, f"restore_{stamp(now)}")


def restore_into(
    backup: FetchedBackup,
    target_url: str,
    *,
    config: BackupConfig | None = None,
    on_start: Callable[[int], None] | None = None,
) -> str:
    """Restore ``backup`` into the NEW database at ``target_url`` (refused when it exists).

    ``on_start`` is told the process id of ``pg_restore`` once it runs (PostgreSQL).
    """
    config = config or load_backup_config()
    db = backup.manifest.database
    warm_up_contracts()  # in the background: the checks that follow are ready when the restore is
    restore_dump(
        backup.dump_path,
        db.dialect,
        target_url,
        tools=config.postgres,
        encoding=db.encoding,
        dump_tool=db.dump_tool,
        on_start=on_start,
    )
    return target_url


def _kept_name(live_url: str, label: str, now: dt.datetime | None) -> str:
    return database_at(sibling_url(live_url, f"{label}_{stamp(now)}")).name


def swap_in(
    staged_url: str,
    live_url: str,
    *,
    config: BackupConfig | None = None,
    now: dt.datetime | None = None,
) -> Swap:
    """Switch the restored database at ``staged_url`` live; the old one is kept as ``…__pre_<time>``."""
    config = config or load_backup_config()
    return swap_databases(staged_url, live_url, keep_as=_kept_name(live_url, "pre", now), tools=config.postgres)


def undo_swap(swap: Swap, *, config: BackupConfig | None = None, now: dt.datetime | None = None) -> Swap:
    """Put the previous database back live; the refused restore is kept as ``…__failed_<time>``."""
    config = config or load_backup_config()
    if swap.previous_url is None:
        raise GateRefused("there was no live database before this restore: nothing to put back")
    return swap_databases(
        swap.previous_url, swap.live_url, keep_as=_kept_name(swap.live_url, "failed", now), tools=config.postgres
    )


def retire_previous(swap: Swap, *, config: BackupConfig | None = None) -> None:
    """Drop the database a verified swap set aside."""
    config = config or load_backup_config()
    if swap.previous_url is not None:
        drop_database(swap.previous_url, config.postgres)


# --------------------------------------------------------------------------- verify


def verify_restored(
    url: str,
    manifest: Manifest,
    *,
    contracts: bool = True,
    extra_checks: Sequence[Any] = (),
) -> VerifyReport:
    """Check that the database at ``url`` equals the backup: same Alembic revision, same
    tables with the same row counts and fingerprints, and program data that passes the
    bundle contracts. ``extra_checks`` are callables ``(url, manifest) -> list[str]``.
    """
    report = VerifyReport(subject=f"restored database {mask_url(url)}", manifest=manifest)
    if contracts and dialect_of(url) == "postgresql":
        # the contract checks (Python) start at once, on their own connection, while the server
        # counts and fingerprints; their findings count only when the tables match, as before.
        # (Not for SQLite: there both are Python, and opening a missing file would create it.)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rotaflow-contracts") as pool:
            checked = pool.submit(contract_problems_in_database, url)
            _compare(url, manifest, report)
            if not report.problems:
                report.problems += checked.result()
    else:
        _compare(url, manifest, report)
        if contracts and not report.problems:
            report.problems += contract_problems_in_database(url)
    for check in extra_checks:
        report.problems += list(check(url, manifest))
    return report


def _compare(url: str, manifest: Manifest, report: VerifyReport) -> None:
    """Revision, tables, row counts and fingerprints of the database at ``url`` against the manifest."""
    try:
        revision, tables = table_stats(url)
    except RotaflowError as exc:  # put into words by rotaflow: no row values
        report.problems.append(f"the restored database could not be read: {type(exc).__name__}: {exc}")
        return
    except Exception as exc:  # a driver's text may quote row values: it goes to the log, not into events
        LOG.warning("the restored database could not be read", exc_info=True)
        report.problems.append(
            f"the restored database could not be read: {type(exc).__name__} (the details are in the log)"
        )
        return
    if revision != manifest.alembic_revision:
        report.problems.append(
            f"Alembic revision is {revision or 'none'}, the backup recorded {manifest.alembic_revision or 'none'}"
        )
    for name, expected in sorted(manifest.tables.items()):
        found = tables.get(name)
        if found is None:
            report.problems.append(f"table {name} is missing")
        elif found.rows != expected.rows:
            report.problems.append(f"table {name} has {found.rows} rows, the backup recorded {expected.rows}")
        elif found.fingerprint != expected.fingerprint:
            report.problems.append(f"table {name} has the right row count but different content")
    for name in sorted(set(tables) - set(manifest.tables)):
        report.problems.append(f"table {name} is not in the backup")
    report.tables_checked = len(tables)


def _frame(dataset: Any, rows: list[Any]) -> pd.DataFrame:
    """Rows read back from the database, typed the way the bundle parser types its frames."""
    schema = dataset.model.to_schema()
    index = pd.RangeIndex(1, len(rows) + 1, name="row")
    columns: dict[str, pd.Series] = {}
    for name, column in schema.columns.items():
        dtype = str(column.dtype)
        values = [_cell(getattr(row, name, None)) for row in rows]  # a column the tables do not keep: empty
        if dtype.startswith("datetime64"):
            stamps = [pd.NaT if v is pd.NA else pd.Timestamp(v) for v in values]
            columns[name] = pd.Series(stamps, index=index, dtype="datetime64[ns]")
        elif dtype in ("Int64", "Float64", "boolean"):
            columns[name] = pd.Series(pd.array(values, dtype=dtype), index=index)
        else:
            columns[name] = pd.Series(values, index=index, dtype="str")
    return pd.DataFrame(columns, index=index)


def _cell(value: Any) -> Any:
    if value is None:
        return pd.NA
    if isinstance(value, dt.datetime):  # instants: stored in UTC, the contract wants ISO with an offset
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    return value


_WARM_UP_STARTED = threading.Lock()  # taken once, never given back: one warm-up per process


def warm_up_contracts() -> None:
    """Load what the contract checks need (modules, Pandera schemas, ORM mappers) on a background thread.

    In a new process that is most of a second the first check would otherwise spend after
    the restore; started before ``pg_restore``, it happens while the server works. Once per
    process; a check that starts before it is done only waits for the modules it shares.
    """
    if _WARM_UP_STARTED.acquire(blocking=False):
        threading.Thread(target=_warm_up, name="rotaflow-warm-up", daemon=True).start()


def _warm_up() -> None:
    try:
        from sqlalchemy.orm import configure_mappers

        from rotaflow.db.repositories import DATASET_TABLES
        from rotaflow.validations.bundle import contract_problems, cross_file_problems
        from rotaflow.validations.contracts import DATASETS

        configure_mappers()
        frames = {name: _frame(DATASETS[name], []) for name in DATASET_TABLES}
        for name, frame in frames.items():
            contract_problems(DATASETS[name], frame, set())
        cross_file_problems(frames)
    except Exception:  # only a head start: the real checks report whatever this met
        pass


def contract_problems_in_database(url: str) -> list[str]:
    """Every live program's data read back through the repositories and held to the bundle contracts."""
    from rotaflow.db.repositories import DATASET_TABLES, ProgramRepository
    from rotaflow.db.session import UnitOfWork
    from rotaflow.validations.bundle import contract_problems, cross_file_problems
    from rotaflow.validations.contracts import DATASETS

    problems: list[str] = []
    with UnitOfWork(unpooled_engine(url)) as uow:
        repository = ProgramRepository(uow.s)
        for program in repository.all():
            frames: dict[str, pd.DataFrame] = {}
            found = []
            for name in DATASET_TABLES:
                dataset = DATASETS[name]
                frame = _frame(dataset, repository.live_rows(name, program.id))
                frames[name] = frame
                if len(frame) < dataset.min_rows:
                    found.append(f"{dataset.file}: expected at least {dataset.min_rows} row(s), got none")
                found += [str(p) for p in contract_problems(dataset, frame, set())]
            found += [str(p) for p in cross_file_problems(frames)]
            problems += [f"program {program.key}: {p}" for p in found]
    return problems
