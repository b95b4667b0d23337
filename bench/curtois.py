"""Curtois & Qu benchmark: rotaflow's rule engine against the best known results.

    python bench/curtois.py [--time-limit 60] [--workers 2] [FILE ...]

Without files it runs Instance1..12 of the shared benchmark folder. Each instance runs in
the same process one after another; the objective is the independent evaluator's. Prints a
table (instance, best known, plain model, ours, gap %, seconds, status) and writes
bench/results/curtois.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "benchmarks" / "curtois"

PLAIN_MODEL = {
    "Instance1": 607,
    "Instance2": 828,
    "Instance3": 1001,
    "Instance4": 1721,
    "Instance5": 1241,
    "Instance6": 2269,
    "Instance7": 1188,
}
"""The straightforward CP-SAT model of the benchmark README (30 s, 2 workers)."""


def best_known(folder: Path) -> dict[str, int]:
    path = folder / "best_known.csv"
    if not path.exists():
        return {}
    with path.open() as handle:
        return {row["instance"]: int(row["recommended_anchor"]) for row in csv.DictReader(handle)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curtois.json")
    args = parser.parse_args()

    from rotaflow.constraints.benchmark import solve_curtois

    files = args.files or sorted(SHARED.glob("Instance*.txt"), key=lambda p: int(p.stem.removeprefix("Instance")))
    known = best_known(files[0].parent if files else SHARED) | best_known(SHARED)
    rows = []
    header = f"{'instance':<12} {'best known':>10} {'plain':>7} {'ours':>7} {'gap %':>7} {'seconds':>8}  status"
    print(header)
    print("-" * len(header))
    for path in files:
        result = solve_curtois(path, time_limit=args.time_limit, workers=args.workers, seed=args.seed)
        best = known.get(result["instance"])
        ours = result["objective"]
        gap = None if best is None or ours is None else 100.0 * (ours - best) / best
        row = {**result, "best_known": best, "plain_model": PLAIN_MODEL.get(result["instance"]), "gap_percent": gap}
        rows.append(row)
        print(
            f"{row['instance']:<12} {best if best is not None else '-':>10} {row['plain_model'] or '-':>7} "
            f"{ours if ours is not None else '-':>7} {'-' if gap is None else f'{gap:.2f}':>7} "
            f"{row['seconds']:>8.1f}  {row['status']}",
            flush=True,
        )
    gaps = [r["gap_percent"] for r in rows if r["gap_percent"] is not None]
    if gaps:
        print(f"\nmean gap {sum(gaps) / len(gaps):.2f} % over {len(gaps)} instance(s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "time_limit": args.time_limit,
        "workers": args.workers,
        "seed": args.seed,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": rows,
        "mean_gap_percent": sum(gaps) / len(gaps) if gaps else None,
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
