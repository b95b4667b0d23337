"""Contingency screens: how long N-1 (and N-2) take to screen a block before any repair solve, and the same with
another checkout of rotaflow in the same run.

    python bench/screens.py [--cases 24:3,48:2,300:1] [--order 1] [--baseline /tmp/base]

Each case is the first block (2027-B01) of a synthetic program (``RESIDENTS:SEED``, `rotaflow synth`), solved
once with block generation's settings (a 60-s limit) and kept under the temp folder for every tree. Each tree
runs in its own process (its checkout first on PYTHONPATH): the context (``prepare_context``), then the
screens of each order (``screen_scenarios``; N-2 after N-1, whose results it reuses). Prints per case and tree:
people, scenarios, settled by the screens, left for the solver, seconds of the context and of each order, the
screens' seconds as a ratio of the baseline's, and whether both trees settled every scenario the same way
(outcome, sizes, dates and the solver's hints: a digest). bench/results/screens.json keeps every figure.

    git worktree add /tmp/base 07d5035 && ln -s "$PWD/.venv" /tmp/base/.venv
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._table import print_table, write_results  # noqa: E402

BLOCK = "2027-B01"

WORKER = """
import hashlib, json, pickle, sys, time
from pathlib import Path
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.contingency.context import prepare_context
from rotaflow.validations.contingency.scenarios import screen_scenarios
folder, cells_file, order = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bundle = parse_bundle({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
cells = pickle.loads(Path(cells_file).read_bytes())
started = time.perf_counter()
context = prepare_context(bundle, "@BLOCK@", cells)
out = {"context_s": time.perf_counter() - started, "people": len(context.instance.person_ids)}
digest = hashlib.sha256()
singles = None
for k in range(1, order + 1):
    started = time.perf_counter()
    screened = screen_scenarios(context, k, singles=singles) if k == 2 else screen_scenarios(context, k)
    out[f"n{k}_s"] = time.perf_counter() - started
    out[f"n{k}_settled"], out[f"n{k}_jobs"] = len(screened.settled), len(screened.jobs)
    singles = screened.settled
    for r in screened.settled:
        digest.update(repr((r.people, r.outcome, r.settled_by, r.repair_size, r.lower_bound, r.stand_ins,
                            r.first_uncovered_date, r.first_uncovered_shift)).encode())
    for j in screened.jobs:
        digest.update(repr((j.people, j.lower_bound, sorted(j.hint))).encode())
out["digest"] = digest.hexdigest()[:16]
print(json.dumps(out))
""".replace("@BLOCK@", BLOCK)


def _schedule(residents: int, seed: int, work: Path) -> tuple[Path, Path]:
    """The synthetic program and its block's schedule (person, date, shift), solved once."""
    from rotaflow.services.generate import load_solver_settings, solve_block
    from rotaflow.services.synth import write_bundle
    from rotaflow.validations.bundle import parse_bundle
    from rotaflow.validations.instances import block_instance, rules_for

    folder = work / f"synthetic-{residents}-{seed}"
    write_bundle(folder, residents=residents, seed=seed)
    bundle = parse_bundle({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    instance = block_instance(bundle, BLOCK)
    result = solve_block(instance, rules_for(bundle), load_solver_settings(time_limit_seconds=60, seed=0))
    if not result.cells:
        raise SystemExit(f"the {residents}-resident block did not solve ({result.status})")
    cells = work / f"cells-{residents}-{seed}.pickle"
    cells.write_bytes(pickle.dumps([(p, instance.date(d), s) for p, d, s in sorted(result.cells)]))
    return folder, cells


def _screen(tree: Path, folder: Path, cells: Path, order: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(folder), str(cells), str(order)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"screens ({tree}) exited {done.returncode}:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="24:3,48:2,300:1", help="RESIDENTS:SEED, comma-separated")
    parser.add_argument("--order", type=int, choices=(1, 2), default=1)
    parser.add_argument("--baseline", type=Path, help="another rotaflow checkout (a worktree of an earlier commit)")
    args = parser.parse_args()
    trees = [("current", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-screens-") as scratch:
        for case in args.cases.split(","):
            residents, _, seed = case.partition(":")
            folder, cells = _schedule(int(residents), int(seed or 1), Path(scratch))
            for label, tree in trees:
                run = _screen(tree, folder, cells, args.order)
                run["screens_s"] = sum(run[f"n{k}_s"] for k in range(1, args.order + 1))
                rows.append({"case": case, "tree": label, **run})
                print(f"  {case} {label}: {run['screens_s']:.2f} s", file=sys.stderr, flush=True)
    for row in rows:
        base = next((r for r in rows if r["case"] == row["case"] and r["tree"] == "baseline"), None)
        row["vs"] = f"{row['screens_s'] / base['screens_s']:.2f}x" if base else "-"
        row["same"] = "-" if base is None else ("yes" if base["digest"] == row["digest"] else "NO")
        row["scenarios"] = sum(row[f"n{k}_settled"] + row[f"n{k}_jobs"] for k in range(1, args.order + 1))
        row["settled"] = sum(row[f"n{k}_settled"] for k in range(1, args.order + 1))
        row["jobs"] = sum(row[f"n{k}_jobs"] for k in range(1, args.order + 1))
        row["n2"] = row.get("n2_s", float("nan"))
    columns = [
        ("case", "case", "<8", ""),
        ("tree", "tree", "<9", ""),
        ("people", "people", ">6", ""),
        ("scenarios", "scenarios", ">9", ""),
        ("settled", "screened", ">8", ""),
        ("jobs", "to solve", ">8", ""),
        ("context_s", "context s", ">9", ".2f"),
        ("n1_s", "N-1 s", ">7", ".2f"),
        ("n2", "N-2 s", ">7", ".2f"),
        ("vs", "vs base", ">7", ""),
        ("same", "same", ">4", ""),
    ]
    print_table(rows, columns)
    write_results("screens", rows)


if __name__ == "__main__":
    main()
