"""Explanations benchmark: what ``cell_explanations`` (report.html's grid) and ``rotaflow explain`` cost.

    python bench/explain.py [--schedule tests/fixtures/sample-2027-B01-assignments.csv] [--block 2027-B01]
                            [--repeat 3] [--cells 20]

Validates the sample program's block (a CP-SAT schedule kept in tests/fixtures) as ``rotaflow validate`` does,
then times ``cell_explanations`` over the whole grid (best of ``--repeat``: wall and CPU seconds, the cells
explained, the day-off probes against ``MAX_PROBES``) and ``explain_schedule`` for ``--cells`` cells picked
evenly over the worked ones (the context built each time, as the command does). Prints a table and writes
bench/results/explain.json. Wall times follow the machine's load (CPU times less so); nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)

SAMPLE = ROOT / "configs" / "programs" / "sample"
SCHEDULE = ROOT / "tests" / "fixtures" / "sample-2027-B01-assignments.csv"


def _timed(run: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = run()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedule", type=Path, default=SCHEDULE)
    parser.add_argument("--block", default="2027-B01")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cells", type=int, default=20)
    args = parser.parse_args()

    from rotaflow.services.explain import MAX_PROBES, cell_explanations, explain_schedule
    from rotaflow.services.ingest import load_bundle
    from rotaflow.services.validate import validate
    from rotaflow.validations.schedule import load_schedule

    bundle = load_bundle(str(SAMPLE))
    frame = load_schedule(bundle, args.schedule.read_bytes(), file=args.schedule.name)
    validation, validate_wall, validate_cpu = _timed(lambda: validate(bundle, frame, block_id=args.block))
    grid = []
    for _ in range(max(args.repeat, 1)):
        cells, wall, cpu = _timed(lambda: cell_explanations(bundle, validation))
        grid.append((wall, cpu))
    off = [key for key in cells if key[2] == ""]
    rows = list(
        zip(frame["person_id"].astype(str), frame["date"].map(lambda d: d.date()), frame["shift_id"], strict=True)
    )
    picked = sorted(rows)[:: max(1, len(rows) // max(args.cells, 1))][: args.cells]
    single = []
    for person, day, _ in picked:
        _, wall, cpu = _timed(lambda p=person, d=day: explain_schedule(bundle, args.block, rows, p, d, source="bench"))
        single.append((wall, cpu))
    people = len(bundle.frames["people"])
    results = [
        {
            "case": "validate (for reference)",
            "count": len(rows),
            "wall": round(validate_wall, 2),
            "cpu": round(validate_cpu, 2),
        },
        {
            "case": f"cell_explanations, {people} people (best of {len(grid)})",
            "count": len(cells),
            "wall": round(min(w for w, _ in grid), 2),
            "cpu": round(min(c for _, c in grid), 2),
            "days_off": len(off),
            "max_probes": MAX_PROBES,
        },
        {
            "case": f"explain one cell (mean of {len(single)})",
            "count": len(single),
            "wall": round(sum(w for w, _ in single) / max(len(single), 1), 3),
            "cpu": round(sum(c for _, c in single) / max(len(single), 1), 3),
        },
    ]
    columns: list[Column] = [("case", "case", "<40", ""), ("count", "cells", ">7", ""), ("wall", "wall s", ">8", ""),
                             ("cpu", "cpu s", ">8", "")]  # fmt: skip
    print_table(results, columns)
    write_results("explain", results)


if __name__ == "__main__":
    main()
