"""Year-planning benchmark: which rotation each resident does in each block of the academic year.

    python bench/year.py [--time-limit-sample 30] [--time-limit 120] [--sizes 150 300] [--seed 0]
                         [--synth-seed 1] [--vacation hard|soft] [--skip-sample]

For the sample program (configs/programs/sample, 36 residents) and synthetic programs of 150 and 300 residents
x 13 blocks (``rotaflow synth``, written into a temporary folder, with the year-planning inputs the generator
derives from its rotation cycle: requirements per PGY, head-count bounds and runs, three per-block overrides,
a few locked residents and a handful of rotation wishes), each in turn:

1. the bundle's files are read and held to their contract (``parse_bundle``);
2. ``rotaflow.services.year.run_plan`` plans the year (what ``rotaflow plan-year`` does between reading the
   bundle and writing its files): the year problem from the bundle, the CP-SAT model, the search with its
   workers (8 whatever the cores) and the time limit; the hard leave rule unless ``--vacation soft``;
3. the plan is checked by an independent counter that reads the bundle's CSV files itself (not the planner's
   problem): each resident's rotations against their PGY's requirements (only the rotations named, each
   within min..max blocks), each rotation's head-count in each block against its bounds or the block's
   override, runs against ``max_consecutive_blocks``, locked rows kept, and every blocking absence on a rotation
   that allows leave (``leave_allowed``, or the setting's default); with ``--vacation soft`` a vacation-only
   block on a rotation that does not allow it is reported as unmet, not counted as a violation.

Reported per program: status, objective, best bound, gap, solve seconds (CP-SAT's wall time) and the time
of the whole ``run_plan`` call (problem, model, search, and the diagnosis when impossible), residents, blocks,
wishes and how many of them (and soft leave weeks) the plan leaves unmet, and the counter's violations.
Process start and the bundle's reading are excluded (step 1 is not timed). CP-SAT runs several workers under
a time limit, so objectives and times may vary between runs and with the machine's load (printed).

Targets: the sample year optimal within 30 s; the 150- and 300-resident years feasible (or optimal) within
120 s (a second's grace for CP-SAT's stop), their gap reported. Prints a table and writes
bench/results/year.json. Exits 1 when a plan breaks a rule the counter checks, or when a program gets no plan
(a correctness failure; times are reported, never asserted).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)

SAMPLE = ROOT / "configs" / "programs" / "sample"
LEAVE_SETTINGS = {"outpatient", "elective", "leave"}
"""Settings whose rotations allow leave when rotations.csv leaves ``leave_allowed`` empty (docs/formats.md)."""
TRUE = {"true", "1", "yes"}
GRACE_S = 1.0
"""Seconds past the time limit still within the target: CP-SAT stops at its limit within moments."""


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / name
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _int(value: str | None) -> int | None:
    return None if value is None or value.strip() == "" else int(value)


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None or value.strip() == "" else value.strip().lower() in TRUE


def check_plan(folder: Path, plan: dict[tuple[str, str], str], vacation: str) -> list[str]:
    """Every rule of the year the plan breaks, counted from the bundle's CSV files (one line each)."""
    broken: list[str] = []
    residents = {
        p["person_id"]: int(p["pgy"]) for p in _rows(folder, "people.csv") if p["role"] == "resident" and p["pgy"]
    }
    blocks = sorted(_rows(folder, "blocks.csv"), key=lambda b: b["start_date"])
    block_ids = [b["block_id"] for b in blocks]
    rotations = {r["rotation_id"]: r for r in _rows(folder, "rotations.csv")}
    for person in residents:
        for block in block_ids:
            if plan.get((person, block)) not in rotations:
                broken.append(f"{person} {block}: no rotation planned ({plan.get((person, block))!r})")
    if broken:
        return broken

    requirements: dict[int, dict[str, tuple[int, int | None]]] = {}
    for row in _rows(folder, "rotation_requirements.csv"):
        requirements.setdefault(int(row["pgy"]), {})[row["rotation_id"]] = (
            int(row["min_blocks"]),
            _int(row.get("max_blocks")),
        )
    for person, pgy in residents.items():
        year = [plan[person, b] for b in block_ids]
        named = requirements.get(pgy)
        if named:
            for rotation_id in sorted(set(year) - set(named)):
                broken.append(f"{person}: {rotation_id} is not among the PGY-{pgy} requirements")
            for rotation_id, (low, high) in named.items():
                done = year.count(rotation_id)
                if done < low or (high is not None and done > high):
                    broken.append(f"{person}: {done} blocks of {rotation_id}, PGY-{pgy} needs {low}..{high}")
        for rotation_id, spec in rotations.items():
            limit = _int(spec.get("max_consecutive_blocks"))
            run = longest = 0
            for value in year:
                run = run + 1 if value == rotation_id else 0
                longest = max(longest, run)
            if limit is not None and longest > limit:
                broken.append(f"{person}: {longest} blocks of {rotation_id} in a row, at most {limit}")

    overrides = {(r["block_id"], r["rotation_id"]): r for r in _rows(folder, "rotation_capacity.csv")}
    heads = Counter((b, r) for (_, b), r in plan.items())
    for block in block_ids:
        for rotation_id, spec in rotations.items():
            low, high = _int(spec.get("min_residents")), _int(spec.get("max_residents"))
            override = overrides.get((block, rotation_id))
            if override is not None:
                low = _int(override["min_residents"]) if _int(override["min_residents"]) is not None else low
                high = _int(override["max_residents"]) if _int(override["max_residents"]) is not None else high
            count = heads[block, rotation_id]
            if (low is not None and count < low) or (high is not None and count > high):
                broken.append(f"{block}: {count} residents on {rotation_id}, bounds {low}..{high}")

    for row in _rows(folder, "rotation_assignments.csv"):
        cell = (row["person_id"], row["block_id"])
        if cell[0] in residents and _flag(row.get("locked"), False) and plan[cell] != row["rotation_id"]:
            broken.append(f"{cell[0]} {cell[1]}: locked to {row['rotation_id']}, planned {plan[cell]}")

    leave_ok = {k for k, r in rotations.items() if _flag(r.get("leave_allowed"), r["setting"] in LEAVE_SETTINGS)}
    kinds: dict[tuple[str, str], set[str]] = {}
    for absence in _rows(folder, "absences.csv"):
        if absence["person_id"] not in residents or not _flag(absence.get("blocking"), True):
            continue
        first, last = dt.date.fromisoformat(absence["start_date"]), dt.date.fromisoformat(absence["end_date"])
        for block in blocks:
            start, end = dt.date.fromisoformat(block["start_date"]), dt.date.fromisoformat(block["end_date"])
            if first <= end and start <= last:
                kinds.setdefault((absence["person_id"], block["block_id"]), set()).add(absence["type"])
    for (person, block), types in sorted(kinds.items()):
        if plan[person, block] in leave_ok or (vacation == "soft" and types == {"vacation"}):
            continue
        broken.append(f"{person} {block}: away ({'+'.join(sorted(types))}) on {plan[person, block]}, no leave there")
    return broken


def _case(label: str, kind: str, folder: Path, limit: float, seed: int, vacation: str) -> dict[str, Any]:
    from rotaflow.services.year import run_plan
    from rotaflow.validations.bundle import parse_bundle

    bundle = parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()})
    started = time.perf_counter()
    plan = run_plan(bundle, time_limit=limit, seed=seed, vacation="soft" if vacation == "soft" else "hard")
    wall = time.perf_counter() - started
    result = plan.result
    violations = check_plan(folder, result.plan, vacation) if plan.planned else []
    for line in violations[:20]:
        print(f"{label}: {line}", file=sys.stderr)
    unmet = Counter(u.kind for u in result.unmet)
    status_ok = result.status == "optimal" if kind == "sample" else plan.planned
    return {
        "program": label,
        "kind": kind,
        "residents": len(plan.problem.residents),
        "blocks": len(plan.problem.blocks),
        "locked_cells": len(plan.problem.locked),
        "wishes": len(plan.problem.wishes),
        "leave_blocks": len(plan.problem.leave),
        "vacation": vacation,
        "time_limit_s": limit,
        "status": result.status,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap_percent": None if result.gap is None else round(100 * result.gap, 2),
        "solve_s": round(result.seconds, 2),
        "run_plan_s": round(wall, 2),
        "penalties": result.penalties,
        "unmet": len(result.unmet),
        "unmet_wishes": unmet.get("wish", 0),
        "unmet_leave": unmet.get("leave", 0),
        "diagnosis": [g.message for g in result.diagnosis],
        "violations": len(violations),
        "target": "optimal <= 30 s" if kind == "sample" else f"feasible <= {limit:g} s",
        # CP-SAT stops at its time limit within moments: a second's grace
        "within_target": status_ok and result.seconds <= limit + GRACE_S,
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit-sample", type=float, default=30.0, help="seconds of the sample's plan")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds of each synthetic program's plan")
    parser.add_argument("--sizes", type=int, nargs="*", default=[150, 300], help="residents of synthetic programs")
    parser.add_argument("--seed", type=int, default=0, help="CP-SAT seed of every plan")
    parser.add_argument("--synth-seed", type=int, default=1, help="seed of the synthetic programs (rotaflow synth)")
    parser.add_argument("--vacation", choices=("hard", "soft"), default="hard", help="as plan-year --vacation")
    parser.add_argument("--skip-sample", action="store_true")
    args = parser.parse_args()
    from rotaflow.services.synth import write_bundle

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-year-"))
    rows = []
    try:
        cases = [] if args.skip_sample else [("sample", "sample", SAMPLE, args.time_limit_sample)]
        for residents in args.sizes:
            folder = work / f"synthetic-{residents}"
            write_bundle(folder, residents=residents, seed=args.synth_seed, blocks=13)
            cases.append((f"synthetic {residents}", "synthetic", folder, args.time_limit))
        for label, kind, folder, limit in cases:
            row = _case(label, kind, folder, limit, args.seed, args.vacation)
            rows.append(row)
            print(f"{label}: {row['status']} in {row['run_plan_s']:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns: list[Column] = [
        ("program", "program", "<14", ""),
        ("residents", "residents", ">9", ""),
        ("blocks", "blocks", ">6", ""),
        ("status", "status", "<9", ""),
        ("objective", "objective", ">9", ""),
        ("best_bound", "bound", ">7", ""),
        ("gap_percent", "gap %", ">6", ""),
        ("solve_s", "solve s", ">7", ".1f"),
        ("run_plan_s", "run_plan s", ">10", ".1f"),
        ("wishes", "wishes", ">6", ""),
        ("unmet", "unmet", ">5", ""),
        ("violations", "violations", ">10", ""),
        ("target", "target", "<17", ""),
        ("within_target", "met", "<5", ""),
    ]
    print()
    print_table(rows, columns)
    write_results("year", rows)
    failed = [r for r in rows if r["violations"] or r["status"] not in ("optimal", "feasible")]
    for row in failed:
        print(f"{row['program']}: {row['status']}, {row['violations']} rule(s) broken", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
