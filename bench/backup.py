"""Backup benchmark: rotaflow's backup and restore against plain pg_dump / pg_restore, same run.

For each database (the sample program, and a synthetic one padded to --size-mb), times:
plain ``pg_dump --format=custom`` and ``createdb`` + ``pg_restore``, then rotaflow's
``create_backup`` (dump + counts and fingerprints on the same snapshot + checksums +
manifest + copy into the store) and its restore path (verify the set, fetch and re-check
it, ``restore_into`` a new database, ``verify_restored``). Prints a table and writes
bench/results/backup.json. The target: rotaflow at most 1.3x the plain tools.

    python bench/backup.py [--postgres-url URL] [--size-mb 1024] [--skip-synthetic]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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


def _make_database(server: str, name: str, pad_mb: int) -> str:
    from sqlalchemy.engine import make_url

    from configs.settings import Settings
    from db.migrate import upgrade
    from db.session import make_engine
    from rotaflow.ingest import ingest_bundle

    _sql(server, f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    ingest_bundle(str(SAMPLE), settings=Settings(database_url=url), engine=engine, expectations=False)
    engine.dispose()
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


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _case(server: str, label: str, pad_mb: int, work: Path) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from backups.config import load_backup_config
    from backups.databases import _libpq, database_size, drop_database, sibling_url
    from backups.restore import restore_into, verify_restored
    from backups.sets import create_backup, fetch_backup
    from backups.storage import LocalStore
    from backups.verify import verify_backup

    name = f"rotaflow_bench_{uuid.uuid4().hex[:8]}"
    url = _make_database(server, name, pad_mb)
    config = load_backup_config(work_dir=str(work / "tmp"), tiers={"quick": {"location": str(work / "store")}})
    jobs = config.postgres.restore_jobs
    result: dict[str, Any] = {"case": label, "database_mb": database_size(url) / 1024**2}
    try:
        conninfo, env = _libpq(url)
        plain = work / "plain.dump"
        result["plain_dump_s"], _ = _timed(
            lambda: subprocess.run(
                ["pg_dump", "--format=custom", f"--file={plain}", f"--dbname={conninfo}"], env=env, check=True
            )
        )
        result["dump_mb"] = plain.stat().st_size / 1024**2
        target = sibling_url(url, "plain")
        target_info, _ = _libpq(target)

        def plain_restore() -> None:
            _sql(server, f'CREATE DATABASE "{make_url(target).database}" TEMPLATE template0')
            subprocess.run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--jobs={jobs}",
                 f"--dbname={target_info}", str(plain)],
                env=env,
                check=True,
            )  # fmt: skip

        result["plain_restore_s"], _ = _timed(plain_restore)
        drop_database(target)
        plain.unlink()

        result["backup_s"], created = _timed(lambda: create_backup(database_url=url, config=config))
        store = LocalStore(work / "store")
        restored = sibling_url(url, "restored")

        def rotaflow_restore() -> dict[str, float]:
            parts: dict[str, float] = {}
            parts["verify_s"], report = _timed(lambda: verify_backup(store, created.backup_id))
            assert report.ok, report.problems
            parts["fetch_s"], fetched = _timed(lambda: fetch_backup(store, created.backup_id, work / "download"))
            parts["restore_into_s"], _ = _timed(lambda: restore_into(fetched, restored, config=config))
            parts["verify_restored_s"], check = _timed(lambda: verify_restored(restored, fetched.manifest))
            assert check.ok, check.problems
            return parts

        result["restore_s"], parts = _timed(rotaflow_restore)
        result.update(parts)
        drop_database(restored)
        result["backup_ratio"] = result["backup_s"] / result["plain_dump_s"]
        result["restore_ratio"] = result["restore_s"] / result["plain_restore_s"]
    finally:
        drop_database(url)
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
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-backup-"))
    os.environ["ROTAFLOW_VAR_DIR"] = str(work / "var")
    cases = [("sample program", 0)]
    if not args.skip_synthetic:
        cases.append((f"synthetic (+{args.size_mb} MB)", args.size_mb))
    try:
        results = [_case(args.postgres_url, label, pad, work) for label, pad in cases]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = f"{'case':<26}{'db MB':>8}{'dump MB':>9}{'pg_dump':>9}{'backup':>9}{'ratio':>7}"
    head += f"{'pg_restore':>11}{'restore':>9}{'ratio':>7}"
    print(head)
    for r in results:
        print(
            f"{r['case']:<26}{r['database_mb']:>8.1f}{r['dump_mb']:>9.1f}{r['plain_dump_s']:>8.2f}s"
            f"{r['backup_s']:>8.2f}s{r['backup_ratio']:>6.2f}x{r['plain_restore_s']:>10.2f}s"
            f"{r['restore_s']:>8.2f}s{r['restore_ratio']:>6.2f}x"
        )
    for r in results:
        print(
            f"  {r['case']}: restore = verify {r['verify_s']:.2f}s + fetch {r['fetch_s']:.2f}s + "
            f"restore_into {r['restore_into_s']:.2f}s + verify_restored {r['verify_restored_s']:.2f}s"
        )
    out = ROOT / "bench" / "results" / "backup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "results": results}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
