"""Block generation benchmark: the sample program's first block and a synthetic 150-resident block.

    python bench/generate.py [--sample-limit 60] [--synthetic-limit 120] [--residents 150]

Solves with the default rule set (no Prefect, no database), checks the schedule with every
rule's checker, and prints: case, residents, status, objective, bound, gap %, seconds to the
first schedule, seconds, hard violations. Writes bench/results/generate.json.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_case(label: str, folder: Path, block: str, limit: float) -> dict[str, object]:
    from rotaflow.services.generate import check, load_solver_settings, solve_block
    from rotaflow.validations.bundle import parse_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    bundle = parse_bundle({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    started = time.perf_counter()
    instance = block_instance(bundle, block)
    rules = rules_for(bundle)
    result = solve_block(instance, rules, load_solver_settings(time_limit_seconds=limit))
    total = time.perf_counter() - started
    violations = [v for v in check(instance, rules, result.cells) if v.severity == "violation"]
    residents = int((bundle.frames["people"]["role"] == "resident").sum())
    return {
        "case": label,
        "residents": residents,
        "status": result.status,
        "objective": result.objective,
        "bound": result.best_bound,
        "gap_percent": None if result.gap is None else round(100 * result.gap, 2),
        "first_solution_s": round(result.progress[0].seconds, 2) if result.progress else None,
        "solve_s": round(result.seconds, 2),
        "total_s": round(total, 2),
        "hard_violations": len(violations),
        "time_limit_s": limit,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample-limit", type=float, default=60.0)
    parser.add_argument("--synthetic-limit", type=float, default=120.0)
    parser.add_argument("--residents", type=int, default=150)
    args = parser.parse_args()
    from rotaflow.services.synth import write_bundle

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-"))
    synthetic = work / f"synthetic-{args.residents}"
    write_bundle(synthetic, residents=args.residents, seed=1)
    cases = [
        ("sample 2027-B01", ROOT / "configs" / "programs" / "sample", "2027-B01", args.sample_limit),
        (f"synthetic {args.residents} B01", synthetic, "2027-B01", args.synthetic_limit),
    ]
    columns = [
        "case",
        "residents",
        "status",
        "objective",
        "bound",
        "gap_percent",
        "first_solution_s",
        "solve_s",
        "total_s",
        "hard_violations",
    ]
    print(" | ".join(columns))
    rows = []
    for label, folder, block, limit in cases:
        row = run_case(label, folder, block, limit)
        rows.append(row)
        print(" | ".join(str(row[c]) for c in columns), flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "results": rows}
    (out / "generate.json").write_text(json.dumps(payload, indent=2))
    print(f"written {out / 'generate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
