"""Ingest benchmark: time and peak memory for the sample and a 300-resident bundle, SQLite and PostgreSQL.

Each case runs in its own process so peak memory (max RSS) belongs to that case alone.
Prints a table and writes bench/results/ingest.json.

    python bench/ingest.py [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _pg import create_pg, drop_pg  # noqa: E402
from _table import print_table, write_results  # noqa: E402  (bench/ is the script's folder)

SAMPLE = ROOT / "configs" / "programs" / "sample"


def _case(source: str, database_url: str, var_dir: str) -> dict[str, object]:
    """Run inside a child process: one cold ingest, then one unchanged re-ingest."""
    os.environ["ROTAFLOW_VAR_DIR"] = var_dir
    from rotaflow.configs.settings import Settings
    from rotaflow.db.migrate import upgrade
    from rotaflow.db.session import make_engine
    from rotaflow.services.ingest import check_expectations, load_bundle, save_bundle

    settings = Settings(database_url=database_url, secret_key="bench-" + uuid.uuid4().hex + uuid.uuid4().hex)
    upgrade(database_url)
    engine = make_engine(database_url)
    t0 = time.perf_counter()
    bundle = load_bundle(source, settings=settings)
    t1 = time.perf_counter()
    report = check_expectations(bundle, settings=settings)
    t2 = time.perf_counter()
    result = save_bundle(bundle, source=source, engine=engine)
    t3 = time.perf_counter()
    again = save_bundle(load_bundle(source, settings=settings), source=source, engine=engine)
    t4 = time.perf_counter()
    engine.dispose()
    assert result.created_version and not again.created_version
    rows = sum(len(f) for f in bundle.frames.values())
    return {
        "rows": rows,
        "contracts_s": t1 - t0,
        "expectations_s": t2 - t1,
        "store_s": t3 - t2,
        "total_s": t3 - t0,
        "reingest_unchanged_s": t4 - t3,
        "expectations_evaluated": report.evaluated,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_case(sys.argv[3], sys.argv[2], sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ROTAFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    from rotaflow.services.synth import write_bundle

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-"))
    big = work / "synthetic-300"
    write_bundle(big, residents=300, seed=1)
    bundles = {"sample (36 residents)": SAMPLE, "synthetic (300 residents)": big}
    rows = []
    for label, path in bundles.items():
        databases = {"sqlite": f"sqlite:///{work / (uuid.uuid4().hex + '.db')}"}
        if not args.skip_postgres:
            databases["postgresql"] = create_pg(args.postgres_url)
        for db_name, url in databases.items():
            var = work / uuid.uuid4().hex
            proc = subprocess.run(
                [sys.executable, __file__, "--child", url, str(path), str(var)],
                capture_output=True,
                text=True,
                check=False,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append({"bundle": label, "database": db_name, **result})
            if db_name == "postgresql":
                drop_pg(args.postgres_url, url)
    columns = [
        ("bundle", "bundle", "<27", ""),
        ("database", "db", "<10", ""),
        ("rows", "rows", ">6", ""),
        ("contracts_s", "contracts s", ">11", ".2f"),
        ("expectations_s", "GX s", ">6", ".2f"),
        ("store_s", "store s", ">8", ".2f"),
        ("total_s", "total s", ">8", ".2f"),
        ("reingest_unchanged_s", "re-ingest s", ">11", ".2f"),
        ("peak_rss_mb", "peak MB", ">8", ".0f"),
    ]
    print_table(rows, columns)
    write_results("ingest", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
