"""Contingency benchmark: N-1 and N-2 of the sample program's block 2027-B01 (48 people).

    python bench/contingency.py [--deterministic-time 1.5] [--workers 2] [--skip-dask]

Runs the ``contingency-analysis`` flow against a temporary Prefect API (a real server process,
which the Dask worker processes report to) over a schedule solved once and cached under the temp
folder: N-1 on the thread pool, N-2 on the thread pool, N-2 on a local Dask cluster (``workers``
processes), and checks that both N-2 runs give identical scenario frames. Prints: case,
scenarios, solver jobs, share settled without a solve, uncovered, critical people, fatal pairs,
largest repair, jeopardy pool, seconds, target. Writes bench/results/contingency.json.
Targets on 2 cores: N-1 ≤ 60 s, N-2 ≤ 600 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="rotaflow-bench-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")

SAMPLE = ROOT / "configs" / "programs" / "sample"
BLOCK = "2027-B01"
TARGETS = {1: 60.0, 2: 600.0}


def cached_schedule() -> Path:
    """The sample block's schedule as assignments.csv, solved once per bundle version (10-20 s)."""
    from rotaflow.services.generate import load_solver_settings, solve_block
    from rotaflow.validations.bundle import parse_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    files = {p.name: p.read_bytes() for p in sorted(SAMPLE.iterdir()) if p.is_file()}
    digest = hashlib.sha256(b"".join(n.encode() + b for n, b in files.items())).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"rotaflow-contingency-{BLOCK}-{digest}.csv"
    if path.exists():
        return path
    bundle = parse_bundle(files)
    instance = block_instance(bundle, BLOCK)
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=60, seed=0))
    if not result.cells:
        raise SystemExit(f"the sample block did not solve ({result.status})")
    rows = [f"{p},{instance.date(d).isoformat()},{s}" for p, d, s in sorted(result.cells)]
    path.write_text("person_id,date,shift_id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _warm_up() -> None:
    """Start Prefect's local API before the clock runs (the first flow of a process waits for it)."""
    from prefect import flow

    @flow(name="contingency-bench-warm-up")
    def warm_up() -> int:
        return 1

    warm_up()


def run_case(label: str, runner: Any, order: int, schedule: Path, limit: float) -> tuple[dict[str, Any], Any]:
    import rotaflow.validations.contingency.repair as service
    from rotaflow.flows.contingency import contingency_analysis

    service._BASES.clear()  # every case builds its own model, as a fresh worker would
    started = time.perf_counter()
    analysis = contingency_analysis.with_options(task_runner=runner)(
        str(SAMPLE), BLOCK, str(schedule), order, None, limit
    )
    seconds = time.perf_counter() - started
    frame = analysis.scenarios
    facts = analysis.summary()
    row = {
        "case": label,
        "order": order,
        "scenarios": len(frame),
        "solver_jobs": int((frame["settled_by"] == "solver").sum()),
        "settled_without_solve_percent": round(100 * analysis.settled_without_solve, 1),
        "settled_by": {k: int(v) for k, v in frame["settled_by"].value_counts().sort_index().items()},
        "uncovered": int((frame["outcome"] == "uncovered").sum()),
        "unknown": int((frame["outcome"] == "unknown").sum()),
        "minimal_repairs_percent": round(100 * float(frame["repair_minimal"].fillna(False).mean()), 1),
        "critical": len(analysis.critical),
        "fatal_pairs": len(analysis.fatal_pairs),
        "largest_repair": facts["largest_repair"],
        "jeopardy_pool": facts["jeopardy"]["size"],
        "seconds": round(seconds, 1),
        "target_s": TARGETS[order],
        "within_target": seconds <= TARGETS[order],
    }
    return row, analysis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deterministic-time", type=float, default=None, help="CP-SAT budget per scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from prefect_dask import DaskTaskRunner

    from rotaflow.configs.settings import Settings
    from rotaflow.flows.contingency import contingency_task_runner
    from rotaflow.validations.contingency import DEFAULT_DETERMINISTIC_TIME

    limit = args.deterministic_time or DEFAULT_DETERMINISTIC_TIME
    schedule = cached_schedule()
    _warm_up()
    threads = Settings(contingency_task_runner="threads", contingency_workers=args.workers)
    cases: list[tuple[str, Any, int]] = [
        ("N-1 threads", contingency_task_runner(threads), 1),
        ("N-2 threads", contingency_task_runner(threads), 2),
    ]
    if not args.skip_dask:
        dask = Settings(contingency_task_runner="dask", contingency_workers=args.workers)
        runner = contingency_task_runner(dask)
        assert isinstance(runner, DaskTaskRunner) and runner.cluster_kwargs["processes"]
        cases.append(("N-2 dask", runner, 2))
    columns = [
        "case",
        "scenarios",
        "solver_jobs",
        "settled_without_solve_percent",
        "uncovered",
        "critical",
        "fatal_pairs",
        "largest_repair",
        "jeopardy_pool",
        "seconds",
        "target_s",
    ]
    print(" | ".join(columns), flush=True)
    rows = []
    frames = {}
    for label, runner, order in cases:
        row, analysis = run_case(label, runner, order, schedule, limit)
        rows.append(row)
        frames[label] = analysis.scenarios.drop(columns="seconds")
        print(" | ".join(str(row[c]) for c in columns), flush=True)
    identical = None
    if "N-2 dask" in frames:
        identical = bool(frames["N-2 threads"].equals(frames["N-2 dask"]))
        print(f"N-2 threads and N-2 dask give identical frames: {identical}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "program": "configs/programs/sample",
        "block": BLOCK,
        "deterministic_time": limit,
        "workers": args.workers,
        "results": rows,
        "identical_threads_dask": identical,
    }
    (out / "contingency.json").write_text(json.dumps(payload, indent=2))
    print(f"written {out / 'contingency.json'}")
    return 0 if identical in (True, None) else 1


if __name__ == "__main__":
    sys.exit(main())
