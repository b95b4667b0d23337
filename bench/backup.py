"""Backup benchmark: rotaflow's backup and restore against plain pg_dump / pg_restore, same run.

Two databases:

* **sample year**: the sample program (``configs/programs/sample``, 13 blocks) ingested, plus
  a full year of published schedules: one published ``schedule_runs`` row per block with its
  assignments (a plausible rota from ``bench/validate_acgme.synthetic_schedule`` for the
  residents, day shifts and home call for the faculty, given their instants, hours and
  rotations by ``load_schedule``) and its ``publish`` audit entry, bulk-inserted (solving
  13 blocks would take too long for a benchmark);
* **synthetic**: the same, padded with audit rows to about ``--size-mb`` MB.

For each, ``--repeat`` (``--synthetic-repeat``) rounds of: plain ``pg_dump --format=custom``
and rotaflow's ``create_backup`` (dump + counts and fingerprints on the same snapshot +
checksums + manifest + copy into the store), then plain ``createdb`` + ``pg_restore`` and
rotaflow's restore path (verify the set, fetch and re-check it, ``restore_into`` a new
database, ``verify_restored``); which of the two goes first alternates from round to round.
The table shows the median of each and the ratio of the medians; bench/results/backup.json
keeps every round. The target: rotaflow at most 1.3x the plain tools.

    python bench/backup.py [--postgres-url URL] [--size-mb 1024] [--repeat 5] [--synthetic-repeat 3]
                           [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "configs" / "programs" / "sample"
ROW_BYTES = 420  # about what one padding row takes on disk
TIMINGS = ("plain_dump_s", "backup_s", "plain_restore_s", "restore_s")
PARTS = ("verify_s", "fetch_s", "restore_into_s", "verify_restored_s")


def _admin(server: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _sql(url: str, statement: str) -> None:
    from sqlalchemy import text

    engine = _admin(url)
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


# --------------------------------------------------------------------------- the sample year


def _year_of_shifts(bundle: Any) -> Any:
    """Every shift of the year: residents by their rotations, faculty on days and home call."""
    import pandas as pd

    from bench.validate_acgme import START, synthetic_schedule
    from rotaflow.validations.schedule import load_schedule

    blocks = bundle.frames["blocks"]
    first, last = blocks["start_date"].min().date(), blocks["end_date"].max().date()
    assert first == START, f"the sample program starts on {first}, the rota generator on {START}"
    days = (last - first).days + 1
    residents = synthetic_schedule(bundle, days)
    people = bundle.frames["people"]
    faculty = people.loc[people["role"] == "faculty", "person_id"].tolist()
    rows = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        for i, person in enumerate(faculty):
            if day.weekday() < 5 and (n + i) % 3:
                rows.append((person, day.isoformat(), "DAY"))
            if n % len(faculty) == i:
                rows.append((person, day.isoformat(), "HOME_CALL"))
    shifts = pd.concat([residents, pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])], ignore_index=True)
    return load_schedule(bundle, shifts)


def _publish_year(url: str) -> int:
    """One published run per block of the sample program, with its assignments; rows written."""
    from sqlalchemy import insert, select

    from rotaflow.db.models import Assignment, AuditEntry, Program, ScheduleRun
    from rotaflow.db.session import UnitOfWork, make_engine
    from rotaflow.validations.bundle import parse_bundle

    bundle = parse_bundle({p.name: p.read_bytes() for p in sorted(SAMPLE.iterdir()) if p.is_file()})
    schedule = _year_of_shifts(bundle)
    engine = make_engine(url)
    try:
        with UnitOfWork(engine) as uow:
            s = uow.s
            program = s.scalars(select(Program)).one()
            first = dt.datetime(2027, 6, 1, 9, tzinfo=dt.UTC)  # each block published a month before it starts
            runs: list[dict[str, Any]] = []
            assignments: list[dict[str, Any]] = []
            audit: list[dict[str, Any]] = []
            for n, block in enumerate(bundle.frames["blocks"].sort_values("start_date").itertuples()):
                days = schedule["date"].dt.date
                inside = schedule[(days >= block.start_date.date()) & (days <= block.end_date.date())]
                run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rotaflow-bench/{block.block_id}"))
                at = first + dt.timedelta(days=28 * n)
                common = dict(program_id=program.id, version=program.current_version)
                summary = dict(block_id=block.block_id, status="optimal", hard_violations=0, assignments=len(inside))
                runs.append(
                    dict(
                        common,
                        id=run_id,
                        block_id=block.block_id,
                        status="published",
                        objective=1000.0 + n,
                        best_bound=990.0 + n,
                        solve_seconds=42.0,
                        summary=summary,
                        created_at=at,
                        finished_at=at + dt.timedelta(minutes=1),
                    )
                )
                details = dict(block_id=block.block_id, replaced=0, inserted=len(inside), status="published")
                audit.append(
                    dict(
                        common,
                        at=at,
                        actor="rotaflow generate",
                        action="publish",
                        entity="schedule_runs",
                        entity_key=run_id,
                        details=details,
                    )
                )
                assignments += [
                    dict(
                        common,
                        created_at=at,
                        run_id=run_id,
                        person_id=r.person_id,
                        date=r.date.date(),
                        shift_id=r.shift_id,
                        start=r.start.to_pydatetime(),
                        end=r.end.to_pydatetime(),
                        hours=round(r.hours, 2),
                        rotation_id=r.rotation_id if isinstance(r.rotation_id, str) else None,
                        source="solver",
                    )
                    for r in inside.itertuples()
                ]
            s.execute(insert(ScheduleRun), runs)
            s.execute(insert(Assignment), assignments)
            s.execute(insert(AuditEntry), audit)
            uow.commit()
    finally:
        engine.dispose()
    return len(runs) + len(assignments) + len(audit)


def _make_database(server: str, name: str, pad_mb: int) -> str:
    from sqlalchemy.engine import make_url

    from rotaflow.configs.settings import Settings
    from rotaflow.db.migrate import upgrade
    from rotaflow.db.session import make_engine
    from rotaflow.services.ingest import ingest_bundle

    _sql(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    ingest_bundle(str(SAMPLE), settings=Settings(database_url=url), engine=engine, expectations=False)
    engine.dispose()
    _publish_year(url)
    rows = pad_mb * 1024 * 1024 // ROW_BYTES
    step = 200_000
    for start in range(0, rows, step):
        _sql(
            url,
            "INSERT INTO audit_log (at, actor, action, entity, entity_key, details) "
            "SELECT now(), 'bench', 'note', 'bench', g::text, "
            "json_build_object('payload', repeat(md5(g::text), 10)) "
            f"FROM generate_series({start + 1}, {min(rows, start + step)}) AS g",
        )
    _sql(url, "VACUUM ANALYZE")
    return url


def _row_counts(url: str) -> dict[str, int]:
    from rotaflow.backups.databases import table_stats

    return {name: stat.rows for name, stat in table_stats(url)[1].items()}


# --------------------------------------------------------------------------- timing


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _case(server: str, label: str, pad_mb: int, work: Path, repeat: int) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from rotaflow.backups.config import load_backup_config
    from rotaflow.backups.databases import database_size, drop_database, libpq_connection, sibling_url
    from rotaflow.backups.restore import restore_into, verify_restored
    from rotaflow.backups.sets import create_backup, fetch_backup
    from rotaflow.backups.verify import verify_backup
    from rotaflow.storage import LocalStore

    name = f"rotaflow_bench_{uuid.uuid4().hex[:8]}"
    url = _make_database(server, name, pad_mb)
    config = load_backup_config(work_dir=str(work / "tmp"), tiers={"quick": {"location": str(work / "store")}})
    jobs = config.postgres.restore_jobs
    counts = _row_counts(url)
    result: dict[str, Any] = {
        "case": label,
        "database_mb": database_size(url) / 1024**2,
        "assignments": counts.get("assignments", 0),
        "schedule_runs": counts.get("schedule_runs", 0),
        "rows": sum(counts.values()),
        "rounds": [],
    }
    plain = work / "plain.dump"
    target = sibling_url(url, "plain")
    store = LocalStore(work / "store")
    restored = sibling_url(url, "restored")

    def plain_dump() -> None:
        with libpq_connection(url) as (conninfo, env):
            subprocess.run(
                ["pg_dump", "--format=custom", f"--file={plain}", f"--dbname={conninfo}"], env=env, check=True
            )

    def plain_restore() -> None:
        _sql(server, f'CREATE DATABASE "{make_url(target).database}" TEMPLATE template0')
        with libpq_connection(target) as (target_info, env):
            subprocess.run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--jobs={jobs}",
                 f"--dbname={target_info}", str(plain)],
                env=env,
                check=True,
            )  # fmt: skip

    def rotaflow_restore(backup_id: str) -> dict[str, float]:
        parts: dict[str, float] = {}
        parts["verify_s"], report = _timed(lambda: verify_backup(store, backup_id))
        assert report.ok, report.problems
        parts["fetch_s"], fetched = _timed(lambda: fetch_backup(store, backup_id, work / "download"))
        parts["restore_into_s"], _ = _timed(lambda: restore_into(fetched, restored, config=config))
        parts["verify_restored_s"], check = _timed(lambda: verify_restored(restored, fetched.manifest))
        assert check.ok, check.problems
        return parts

    try:
        for round_ in range(repeat):
            ours_first = bool(round_ % 2)  # the two alternate: neither always meets a cold cache
            row: dict[str, Any] = {"rotaflow_first": ours_first}
            if not ours_first:
                row["plain_dump_s"], _ = _timed(plain_dump)
            row["backup_s"], created = _timed(lambda: create_backup(database_url=url, config=config))
            if ours_first:
                row["plain_dump_s"], _ = _timed(plain_dump)
            result["dump_mb"] = plain.stat().st_size / 1024**2
            if not ours_first:
                row["plain_restore_s"], _ = _timed(plain_restore)
            row["restore_s"], parts = _timed(functools.partial(rotaflow_restore, created.backup_id))
            if ours_first:
                row["plain_restore_s"], _ = _timed(plain_restore)
            row.update(parts)
            row["backup_ratio"] = row["backup_s"] / row["plain_dump_s"]
            row["restore_ratio"] = row["restore_s"] / row["plain_restore_s"]
            for leftover in (target, restored):
                drop_database(leftover)
            plain.unlink()
            store.delete_prefix(created.backup_id)
            shutil.rmtree(work / "download", ignore_errors=True)
            result["rounds"].append(row)
        for key in TIMINGS + PARTS:
            result[key] = statistics.median(r[key] for r in result["rounds"])
        result["backup_ratio"] = result["backup_s"] / result["plain_dump_s"]
        result["restore_ratio"] = result["restore_s"] / result["plain_restore_s"]
        result["median_round_backup_ratio"] = statistics.median(r["backup_ratio"] for r in result["rounds"])
        result["median_round_restore_ratio"] = statistics.median(r["restore_ratio"] for r in result["rounds"])
    finally:
        for leftover in (target, restored, url):
            drop_database(leftover)
        shutil.rmtree(work / "store", ignore_errors=True)
        shutil.rmtree(work / "download", ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ROTAFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="padding of the synthetic database")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per database (medians are reported)")
    parser.add_argument("--synthetic-repeat", type=int, default=3, help="rounds for the synthetic database")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-backup-"))
    os.environ["ROTAFLOW_VAR_DIR"] = str(work / "var")
    cases = [("sample year", 0, args.repeat)]
    if not args.skip_synthetic:
        cases.append((f"synthetic (+{args.size_mb} MB)", args.size_mb, args.synthetic_repeat))
    try:
        results = [_case(args.postgres_url, label, pad, work, rounds) for label, pad, rounds in cases]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = f"{'case':<24}{'db MB':>8}{'dump MB':>9}{'rounds':>7}{'pg_dump':>9}{'backup':>9}{'ratio':>7}"
    head += f"{'pg_restore':>11}{'restore':>9}{'ratio':>7}"
    print("medians over the rounds; ratio = rotaflow / plain tool")
    print(head)
    for r in results:
        print(
            f"{r['case']:<24}{r['database_mb']:>8.1f}{r['dump_mb']:>9.2f}{len(r['rounds']):>7}"
            f"{r['plain_dump_s']:>8.3f}s{r['backup_s']:>8.3f}s{r['backup_ratio']:>6.2f}x"
            f"{r['plain_restore_s']:>10.3f}s{r['restore_s']:>8.3f}s{r['restore_ratio']:>6.2f}x"
        )
    for r in results:
        print(
            f"  {r['case']}: {r['rows']} rows ({r['assignments']} assignments, {r['schedule_runs']} runs); "
            f"restore = verify {r['verify_s']:.3f}s + fetch {r['fetch_s']:.3f}s + "
            f"restore_into {r['restore_into_s']:.3f}s + verify_restored {r['verify_restored_s']:.3f}s"
        )
    out = ROOT / "bench" / "results" / "backup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "results": results}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
