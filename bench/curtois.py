"""Curtois & Qu benchmark: rotaflow's rule engine against the best known results.

    python bench/curtois.py [--time-limit 60] [--workers 2] [--seeds 0,1,2] [--large] [FILE ...]

Without files it runs Instance1..12 of the shared benchmark folder, and with ``--large`` also
Instance20..22 (182 days x 50 staff, 182 x 100, 364 x 50). Each instance runs once per seed, one
after another in the same process; the objective is the independent evaluator's, and every roster
found is kept as CSV under bench/results/rosters/<instance>-seed<k>.csv (employee,day,shift), so any
figure in the table can be checked again with constraints/curtois.py ``evaluate``. Prints a table
(instance, best known, plain model, per seed the objective and gap %, max gap) and the mean gap per
seed, and writes bench/results/curtois.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "benchmarks" / "curtois"
SMALL = [f"Instance{i}.txt" for i in range(1, 13)]
LARGE = ["Instance20.txt", "Instance21.txt", "Instance22.txt"]

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


def seeds_of(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def _cell(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if digits else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=seeds_of, default=[0, 1, 2], help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--large", action="store_true", help="also run Instance20..22 (without FILEs)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "curtois.json")
    parser.add_argument("--rosters", type=Path, default=ROOT / "bench" / "results" / "rosters")
    args = parser.parse_args()

    from rotaflow.constraints.benchmark import solve_curtois

    files = args.files or [SHARED / name for name in SMALL + (LARGE if args.large else [])]
    known = best_known(files[0].parent if files else SHARED) | best_known(SHARED)
    args.rosters.mkdir(parents=True, exist_ok=True)
    seeds: list[int] = args.seeds
    per_seed = "".join(f" {f's{k} obj':>8} {f's{k} gap%':>8}" for k in seeds)
    header = f"{'instance':<12} {'best':>7} {'plain':>6}{per_seed} {'max gap%':>9} {'seconds':>8}  status"
    print(header)
    print("-" * len(header), flush=True)
    began = time.monotonic()
    rows = []
    for path in files:
        runs = []
        for seed in seeds:
            roster = args.rosters / f"{path.stem}-seed{seed}.csv"
            roster.unlink(missing_ok=True)  # an earlier run's roster never stands for this one's
            result = solve_curtois(
                path, time_limit=args.time_limit, workers=args.workers, seed=seed, roster_path=roster
            )
            best = known.get(result["instance"])
            ours = result["objective"]
            gap = None if best is None or ours is None else 100.0 * (ours - best) / best
            runs.append({**result, "seed": seed, "gap_percent": gap})
        name = runs[0]["instance"]
        gaps = [r["gap_percent"] for r in runs]
        row = {
            "instance": name,
            "best_known": known.get(name),
            "plain_model": PLAIN_MODEL.get(name),
            "runs": runs,
            "max_gap_percent": None if None in gaps else max(g for g in gaps if g is not None),
        }
        rows.append(row)
        cells = "".join(f" {_cell(r['objective']):>8} {_cell(r['gap_percent'], 2):>8}" for r in runs)
        print(
            f"{name:<12} {_cell(row['best_known']):>7} {_cell(row['plain_model']):>6}{cells} "
            f"{_cell(row['max_gap_percent'], 2):>9} {max(r['seconds'] for r in runs):>8.1f}  "
            + " ".join(sorted({r["status"] for r in runs})),
            flush=True,
        )
    mean_gap: dict[str, float | None] = {}
    for k, seed in enumerate(seeds):
        gaps = [row["runs"][k]["gap_percent"] for row in rows]
        found = [g for g in gaps if g is not None]
        mean_gap[str(seed)] = sum(found) / len(found) if found and len(found) == len(gaps) else None
        missing = len(gaps) - len(found)
        note = f" ({missing} without a roster or best known)" if missing else ""
        print(f"seed {seed}: mean gap {_cell(mean_gap[str(seed)], 2)} % over {len(found)} instance(s){note}")
    all_gaps = [row["max_gap_percent"] for row in rows]
    max_gap = None if None in all_gaps or not all_gaps else max(g for g in all_gaps if g is not None)
    print(f"max gap {_cell(max_gap, 2)} %; {time.monotonic() - began:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "time_limit": args.time_limit,
        "workers": args.workers,
        "seeds": seeds,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()},
        "results": rows,
        "mean_gap_percent_per_seed": mean_gap,
        "max_gap_percent": max_gap,
        "rosters": str(args.rosters),
    }
    args.out.write_text(json.dumps(payload, indent=2))
    print(f"written {args.out} and the rosters in {args.rosters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
