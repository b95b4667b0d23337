"""Block generation benchmark: plain CP-SAT against the neighbourhood search, block by block.

    python bench/generate.py [--residents 150 300] [--sample-limit 30] [--synthetic-limit 120]
                             [--searches cpsat lns] [--seed 1]

Cases: the sample program's first block and the first block of a synthetic program of each
``--residents`` (``--seed``, default 1). ``--searches one-step cpsat`` compares CP-SAT in one call (its
full presolve before any schedule) with block generation's CP-SAT (a first schedule with a light
presolve, then the full one). Each case's model is built once (timed) and solved by each search of
``--searches`` with configs/solver.yaml's other settings (no Prefect, no database); the first
search listed is the baseline the others are compared with in the same run. The schedule is
checked with every rule's checker. Prints: case, residents, search, build s, first solution s,
total s (build + solve), objective, bound, gap %, hard violations, and each search's objective
as a ratio of the baseline's. Writes bench/results/generate.json with every improving schedule
(seconds, objective, bound) of each run: the gap over time.

The machine is shared: quote the ratios of one run, and the load average printed with them.
"""

from __future__ import annotations

import argparse
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

ONE_STEP = "one-step"
"""A search of this benchmark only: CP-SAT on the whole model in one call, its full presolve first (block
generation's ``cpsat`` before it took a first schedule with a light presolve, ``solve_from_first``)."""

COLUMNS = [
    "case",
    "residents",
    "search",
    "build_s",
    "first_solution_s",
    "total_s",
    "objective",
    "bound",
    "gap_percent",
    "hard_violations",
    "objective_ratio",
]


def run_case(label: str, folder: Path, block: str, limit: float, searches: list[str]) -> list[dict[str, Any]]:
    from rotaflow.constraints.model import build_model
    from rotaflow.constraints.solve import solve
    from rotaflow.services.generate import check, load_solver_settings, solve_built
    from rotaflow.validations.bundle import parse_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    bundle = parse_bundle({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    instance = block_instance(bundle, block)
    rules = rules_for(bundle)
    residents = int((bundle.frames["people"]["role"] == "resident").sum())
    started = time.perf_counter()
    built = build_model(instance, rules)
    build = time.perf_counter() - started
    rows: list[dict[str, Any]] = []
    for search in searches:
        settings = load_solver_settings(time_limit_seconds=limit, search="cpsat" if search == ONE_STEP else search)
        began = time.perf_counter()
        if search == ONE_STEP:  # CP-SAT in one call, its full presolve before any schedule
            gap = settings.relative_gap
            result = solve(built, time_limit=limit, workers=settings.workers, seed=settings.seed, relative_gap=gap)
        else:
            result = solve_built(built, settings)
        seconds = time.perf_counter() - began
        violations = [v for v in check(instance, rules, result.cells) if v.severity == "violation"]
        baseline = rows[0]["objective"] if rows else None
        rows.append(
            {
                "case": label,
                "residents": residents,
                "search": search,
                "cells": len(instance.cells),
                "status": result.status,
                "build_s": round(build, 1),
                "first_solution_s": round(result.progress[0].seconds, 1) if result.progress else None,
                "solve_s": round(seconds, 1),
                "total_s": round(build + seconds, 1),
                "objective": result.objective,
                "bound": result.best_bound,
                "gap_percent": None if result.gap is None else round(100 * result.gap, 1),
                "hard_violations": len(violations) if result.cells else None,
                "objective_ratio": (
                    round(result.objective / baseline, 3) if baseline and result.objective is not None else None
                ),
                "time_limit_s": limit,
                "progress": [[round(p.seconds, 2), p.objective, p.bound] for p in result.progress],
            }
        )
        print(" | ".join(str(rows[-1][c]) for c in COLUMNS), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-limit", type=float, default=30.0)
    parser.add_argument("--synthetic-limit", type=float, default=120.0)
    parser.add_argument("--residents", type=int, nargs="*", default=[150, 300])
    parser.add_argument("--searches", nargs="+", choices=[ONE_STEP, "cpsat", "lns", "auto"], default=["cpsat", "lns"])
    parser.add_argument("--no-sample", action="store_true", help="leave the sample program out")
    parser.add_argument("--seed", type=int, default=1, help="the synthetic programs' seed")
    args = parser.parse_args()
    from rotaflow.services.synth import write_bundle

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-"))
    cases = []
    if not args.no_sample:
        cases.append(("sample 2027-B01", ROOT / "configs" / "programs" / "sample", "2027-B01", args.sample_limit))
    for residents in args.residents:
        synthetic = work / f"synthetic-{residents}"
        write_bundle(synthetic, residents=residents, seed=args.seed)
        cases.append((f"synthetic {residents} B01", synthetic, "2027-B01", args.synthetic_limit))
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(" | ".join(COLUMNS))
    rows = []
    for label, folder, block, limit in cases:
        rows += run_case(label, folder, block, limit, args.searches)
    load = os.getloadavg()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in load)}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average_after": load},
        "baseline": args.searches[0],
        "results": rows,
    }
    (out / "generate.json").write_text(json.dumps(payload, indent=2))
    print(f"written {out / 'generate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
