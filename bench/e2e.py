"""End-to-end block generation: a cold `rotaflow generate` of an unseen synthetic block, wall time and phases.

Each case synthesises a program (fixed seed) and runs `rotaflow generate --program … --block 2027-B01 --out …`
as a user does, in a fresh process on a fresh ROTAFLOW_VAR_DIR (a new rotaflow database, Prefect home and
temporary Prefect server; no PREFECT_* or ROTAFLOW_* variable of the caller), with the default settings:
N-1 contingency on, the quick backup, configs/solver.yaml. ``--again`` also times a second run of the same
block in the same var dir: a user's next run, with Prefect's database already made (the first run of a var
dir creates it, which takes seconds) and the block's first version published. A first run's Prefect database
is a copy of the template in rotaflow's cache (``rotaflow-<uid>/cache`` in the temporary folder, or
``ROTAFLOW_CACHE_DIR``) once any new home has left one there; remove that folder to time a machine's very
first run. The table shows the wall
time, summary.json's ``phases`` (the run's own breakdown) and what lies outside the flow (start-up, Prefect's
API, shutdown: wall minus ``phases.total``); bench/results/e2e.json keeps every figure.

``--baseline DIR``: the same runs with another checkout of rotaflow (a worktree of an earlier commit, put
first on PYTHONPATH), one after the other with the current tree in this process, so the ratio compares the
two under the same machine load. A tree without summary.json's phases shows its wall time only.

    git worktree add /tmp/base ca7ddfe && ln -s "$PWD/.venv" /tmp/base/.venv
    python bench/e2e.py [--cases 24,144] [--repeats 1] [--baseline /tmp/base] [--again]

Targets: 24 residents within 15 s, 144 within 60 s (wall). The machine may be shared: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROTAFLOW = Path(sys.executable).parent / "rotaflow"
SEEDS = {24: 3, 144: 7}
"""The seed of each case's synthetic program (other sizes: seed 1)."""
TARGETS = {24: 15.0, 144: 60.0}
BLOCK = "2027-B01"
PHASES = (
    *("ingest", "contracts", "preflight", "build", "solve", "checks"),
    *("validation", "contingency", "export", "publish", "backup", "total"),
)

from bench._table import print_table, write_results  # noqa: E402


def _env(var_dir: Path, tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_", "PYTHONPATH"))}
    env.update(ROTAFLOW_VAR_DIR=str(var_dir), PYTHONPATH=str(tree))
    return env


def _which(tree: Path) -> Path:
    """The rotaflow package a process run with ``tree`` first on PYTHONPATH imports (a check of the set-up)."""
    done = subprocess.run(
        [sys.executable, "-c", "import rotaflow, pathlib; print(pathlib.Path(rotaflow.__file__).resolve())"],
        env=_env(Path(tempfile.gettempdir()), tree),
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip()).parent


def _synth(residents: int, work: Path) -> Path:
    bundle = work / f"s{residents}"
    command = [str(ROTAFLOW), "synth", "--residents", str(residents), "--seed", str(SEEDS.get(residents, 1))]
    subprocess.run([*command, "--out", str(bundle)], env=_env(work / "synth-var", ROOT), check=True, cwd=ROOT)
    return bundle


def _generate(bundle: Path, tree: Path, work: Path, var_dir: Path | None = None) -> dict[str, Any]:
    """One `rotaflow generate` in a fresh var dir (removed after), or in ``var_dir`` (kept: a later run)."""
    keep = var_dir is not None
    var_dir = var_dir or Path(tempfile.mkdtemp(prefix="var-", dir=work))
    out = Path(tempfile.mkdtemp(prefix=f"out-{var_dir.name}-", dir=work))
    command = [str(ROTAFLOW), "generate", "--program", str(bundle), "--block", BLOCK, "--out", str(out), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(var_dir, tree), cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"generate ({tree}) exited {done.returncode}:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    if not keep:
        shutil.rmtree(var_dir, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    phases = summary.get("phases") or {}
    return {
        "wall_s": round(wall, 2),
        "status": summary["status"],
        "objective": summary["objective"],
        "solve_seconds": summary["solve_seconds"],
        "published": summary.get("published"),
        "phases": phases,
        "outside_s": round(wall - phases["total"], 2) if phases else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="24,144", help="resident counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="cold runs per case and tree")
    parser.add_argument("--baseline", type=Path, help="another rotaflow checkout to compare with (PYTHONPATH)")
    parser.add_argument(
        "--again",
        action="store_true",
        help="also time a second run in the same var dir (Prefect's database made by the first): a user's next run",
    )
    args = parser.parse_args()
    trees = [("current", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    for label, tree in trees:
        package = _which(tree)
        if package != (tree / "rotaflow").resolve():
            raise SystemExit(f"{label}: PYTHONPATH={tree} imports rotaflow from {package}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as scratch:
        work = Path(scratch)
        for residents in (int(n) for n in args.cases.split(",")):
            bundle = _synth(residents, work)
            for repeat in range(args.repeats):
                for label, tree in trees:  # interleaved: both trees see the same load
                    if not args.again:
                        runs = [("first", _generate(bundle, tree, work))]
                    else:
                        var_dir = Path(tempfile.mkdtemp(prefix="var-", dir=work))
                        runs = [("first", _generate(bundle, tree, work, var_dir))]
                        runs.append(("again", _generate(bundle, tree, work, var_dir)))
                        shutil.rmtree(var_dir, ignore_errors=True)
                    for which, run in runs:
                        wall = run["wall_s"]
                        print(
                            f"  {residents} residents, {label}, run {repeat + 1} {which}: {wall:.1f} s", file=sys.stderr
                        )
                        rows.append(
                            {"case": f"s{residents}", "residents": residents, "tree": label, "run": which, **run}
                        )
    for row in rows:
        base = [
            r["wall_s"]
            for r in rows
            if r["tree"] == "baseline" and r["residents"] == row["residents"] and r["run"] == row["run"]
        ]
        row["vs_baseline"] = round(row["wall_s"] / (sum(base) / len(base)), 2) if base else None
        row["target_s"] = TARGETS.get(row["residents"])
    shown = [
        {
            **{k: row[k] for k in ("case", "residents", "tree", "run", "wall_s", "status")},
            "vs": "-" if row["vs_baseline"] is None else f"{row['vs_baseline']:.2f}x",
            "outside": "-" if row["outside_s"] is None else f"{row['outside_s']:.1f}",
            **{p: _seconds(row["phases"].get(p)) for p in PHASES},
        }
        for row in rows
    ]
    columns = [
        ("case", "case", "<6", ""),
        ("residents", "res", ">4", ""),
        ("tree", "tree", "<9", ""),
        ("run", "run", "<6", ""),
        ("wall_s", "wall s", ">7", ".1f"),
        ("vs", "vs base", ">7", ""),
        ("status", "status", "<8", ""),
        ("outside", "outside", ">7", ""),
        *((p, p[:7], ">7", "") for p in PHASES),
    ]
    print_table(shown, columns)
    write_results("e2e", rows)


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
