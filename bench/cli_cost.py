"""The command line's own cost: cold `rotaflow …` processes, this checkout against a baseline checkout.

    python bench/cli_cost.py --baseline /tmp/base [--repeat 5] [--heavy-repeat N] [--only help,rules] [--flow]
                             [--gx-split] [--warm]

Each command runs as a fresh process of the ``rotaflow`` entry point (the interpreter of this checkout's
environment) with a fresh ``ROTAFLOW_VAR_DIR`` and output folder and no ``PREFECT_*`` or ``ROTAFLOW_*`` variable
from the caller, with ``PYTHONPATH`` at this checkout (the script's, whichever checkout the environment has
installed); the baseline runs the same command with ``PYTHONPATH`` at the ``--baseline`` checkout (a
worktree of an older commit). Runs alternate baseline and this checkout, one round more than ``--repeat``
(``--heavy-repeat`` for the commands that do work): the first round is dropped (disk caches), the table shows
the medians of the rest — wall seconds and CPU seconds (user + system of the process and the children it
waited for, the steadier figure on a shared machine) — and the ratios this/baseline. Each command's exit
code and standard output (folders masked) are compared between the two checkouts; a difference is shown in
the table. ``--warm`` keeps one ``ROTAFLOW_VAR_DIR`` per command and checkout across the rounds, as ``var/``
is after a first run (GX's stored project, the database); the dropped first round makes it.

Commands (the sample program, configs/programs/sample, block 2027-B01; the schedule
tests/fixtures/sample-2027-B01-assignments.csv):

- ``version``, ``help``, ``validate-help``, ``bench-help`` (``rotaflow bench curtois --help``), ``rules``;
- ``validate``: ``rotaflow validate --no-flow`` of the schedule with GX Data Docs (the default);
- ``validate-no-docs``: the same with ``--no-data-docs``: the difference is what Great Expectations costs;
- ``ingest``: ``rotaflow ingest --no-flow`` of the bundle (its contracts, Pandera and GX, then the SQLite store);
- ``validate-flow`` (with ``--flow``): ``rotaflow validate`` as a Prefect flow (its temporary server).

``--gx-split`` also runs ``validate`` once more in one process of this checkout, timing Great Expectations'
import, context creation, validation runs and Data Docs apart (the rest of run_expectations: suites, definitions).

Prints a table and writes bench/results/cli_cost.json. Times follow the machine's load; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)

ROTAFLOW = Path(sys.executable).parent / "rotaflow"
SAMPLE = ROOT / "configs" / "programs" / "sample"
SCHEDULE = ROOT / "tests" / "fixtures" / "sample-2027-B01-assignments.csv"
BLOCK = "2027-B01"
VALIDATE = ["validate", "-p", str(SAMPLE), "-s", str(SCHEDULE), "--out", "{out}", "-b", BLOCK]

COMMANDS: dict[str, list[str]] = {
    "version": ["--version"],
    "help": ["--help"],
    "validate-help": ["validate", "--help"],
    "bench-help": ["bench", "curtois", "--help"],
    "rules": ["rules"],
    "validate": [*VALIDATE, "--no-flow"],
    "validate-no-docs": [*VALIDATE, "--no-flow", "--no-data-docs"],
    "ingest": ["ingest", "-p", str(SAMPLE), "--no-flow"],
}
FLOW_COMMANDS: dict[str, list[str]] = {"validate-flow": VALIDATE}
HEAVY = {"validate", "validate-no-docs", "ingest", "validate-flow"}


def _env(var_dir: Path, code: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_", "PYTHON"))}
    env.update(ROTAFLOW_VAR_DIR=str(var_dir), COLUMNS="1000")  # no line wrapped inside a folder name
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def _masked(text: str, scratch: Path, var_dir: Path | None = None) -> str:
    """Standard output without the run's folders and the seconds it took (they differ from run to run)."""
    if var_dir is not None:
        text = text.replace(str(var_dir), "<var>")
    text = text.replace(str(scratch), "<scratch>")
    return re.sub(r"\d+\.\d+ ?s\b", "<s>", text)


def run_once(args: list[str], code: Path | None, var_dir: Path | None = None) -> dict[str, Any]:
    """One cold process: wall and CPU seconds, exit code, masked standard output. ``var_dir``: the
    ``ROTAFLOW_VAR_DIR`` to use (kept); by default a new one."""
    scratch = Path(tempfile.mkdtemp(prefix="cli-cost-"))
    try:
        command = [str(ROTAFLOW), *(a.replace("{out}", str(scratch / "out")) for a in args)]
        before = os.times()
        start = time.perf_counter()
        env = _env(var_dir or scratch / "var", code)
        done = subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        sample = {"wall": wall, "cpu": cpu, "code": done.returncode, "out": _masked(done.stdout, scratch, var_dir)}
        if done.returncode not in (0, 3):  # 3: violations found, a result like any other
            sample["stderr"] = _masked(done.stderr, scratch, var_dir)[-2000:]
        return sample
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


_GX_SPLIT = r"""
import json, sys, time
timings = {}
start, cpu = time.perf_counter(), time.process_time()
import great_expectations as gx
import great_expectations.expectations
timings["import great_expectations"] = [time.perf_counter() - start, time.process_time() - cpu]

def timed(owner, name, key):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        began, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            wall, used = timings.get(key, [0.0, 0.0])
            timings[key] = [wall + time.perf_counter() - began, used + time.process_time() - cpu]
    setattr(owner, name, wrapper)

from great_expectations.data_context.data_context.abstract_data_context import AbstractDataContext
import rotaflow.services.validate as service
import rotaflow.validations.expectations as expectations
timed(gx, "get_context", "context creation (get_context)")
timed(gx.ValidationDefinition, "run", "validation runs")
timed(AbstractDataContext, "build_data_docs", "Data Docs pages (GX)")
timed(expectations, "offline_site", "Data Docs index (rotaflow)")
timed(expectations, "run_expectations", "run_expectations (all of GX's work)")
timed(service, "_data_docs", "data docs step of validate")
timed(service, "write_validation", "write_validation")
from rotaflow.cli import main
began, cpu = time.perf_counter(), time.process_time()
code = main(sys.argv[1:])
timings["command (after GX's import)"] = [time.perf_counter() - began, time.process_time() - cpu]
print(json.dumps({"code": code, "timings": timings}))
"""


def gx_split(args: list[str]) -> dict[str, Any]:
    """One cold ``validate`` in a process of this checkout, Great Expectations' parts timed apart."""
    scratch = Path(tempfile.mkdtemp(prefix="cli-cost-gx-"))
    try:
        command = [sys.executable, "-c", _GX_SPLIT, *(a.replace("{out}", str(scratch / "out")) for a in args)]
        start = time.perf_counter()
        done = subprocess.run(
            command, env=_env(scratch / "var", ROOT), cwd=scratch, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"the GX split run failed ({done.returncode}):\n{done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["wall"] = wall
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, help="a checkout of an older commit (e.g. a git worktree)")
    parser.add_argument("--repeat", type=int, default=5, help="counted runs per command and checkout")
    parser.add_argument(
        "--heavy-repeat", type=int, help="counted runs of validate, validate-no-docs, ingest, validate-flow"
    )
    parser.add_argument("--only", default="", help="comma-separated command names (default: all)")
    parser.add_argument("--flow", action="store_true", help="also validate-flow (a Prefect temporary server a run)")
    parser.add_argument("--gx-split", action="store_true", help="time Great Expectations' parts of validate apart")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="one ROTAFLOW_VAR_DIR per command and checkout, kept across the rounds (as var/ is after a first run: "
        "GX's stored project, the database)",
    )
    options = parser.parse_args()

    commands = dict(COMMANDS, **(FLOW_COMMANDS if options.flow else {}))
    if options.only:
        wanted = options.only.split(",")
        unknown = sorted(set(wanted) - set(COMMANDS) - set(FLOW_COMMANDS))
        if unknown:
            parser.error(f"unknown command name(s): {', '.join(unknown)}")
        commands = {name: (COMMANDS | FLOW_COMMANDS)[name] for name in wanted}
    variants: dict[str, Path | None] = {"after": ROOT}  # this checkout, whichever one is installed
    if options.baseline is not None:
        variants = {"before": options.baseline.resolve(), "after": ROOT}

    samples: dict[tuple[str, str], list[dict[str, Any]]] = {(c, v): [] for c in commands for v in variants}
    load = [os.getloadavg()]
    heavy_repeat = options.repeat if options.heavy_repeat is None else options.heavy_repeat
    warm = Path(tempfile.mkdtemp(prefix="cli-cost-var-")) if options.warm else None
    for round_ in range(max(options.repeat, heavy_repeat) + 1):
        for name, args in commands.items():
            if round_ > (heavy_repeat if name in HEAVY else options.repeat):
                continue
            for variant, code in variants.items():
                kept = warm / f"{name}-{variant}" if warm is not None else None
                sample = run_once(args, code, kept)
                if round_:  # the first round warms the disk caches
                    samples[(name, variant)].append(sample)
                print(
                    f"round {round_} {name:<17} {variant:<6} {sample['wall']:7.2f} s wall {sample['cpu']:7.2f} s cpu "
                    f"exit {sample['code']}",
                    file=sys.stderr,
                    flush=True,
                )
                if "stderr" in sample:
                    print(sample["stderr"], file=sys.stderr, flush=True)
        load.append(os.getloadavg())

    rows = []
    for name, args in commands.items():
        row: dict[str, Any] = {"command": "rotaflow " + " ".join(a.replace(str(ROOT) + "/", "") for a in args)}
        row["name"] = name
        for variant in variants:
            runs = samples[(name, variant)]
            row[f"{variant}_wall"] = statistics.median(r["wall"] for r in runs)
            row[f"{variant}_cpu"] = statistics.median(r["cpu"] for r in runs)
            row[f"{variant}_walls"] = [round(r["wall"], 3) for r in runs]
            row[f"{variant}_cpus"] = [round(r["cpu"], 3) for r in runs]
            row[f"{variant}_exit"] = sorted({r["code"] for r in runs})
            row[f"{variant}_stderr"] = [r["stderr"] for r in runs if "stderr" in r]
        after = samples[(name, "after")]
        if "before" in variants:
            before = samples[(name, "before")]
            row["wall_ratio"] = row["after_wall"] / row["before_wall"]
            row["cpu_ratio"] = row["after_cpu"] / row["before_cpu"]
            same = {(r["code"], r["out"]) for r in before} == {(r["code"], r["out"]) for r in after}
            row["same_output"] = "yes" if same else "NO"
        rows.append(row)

    columns: list[Column] = [("name", "command", "<17", "")]
    if "before" in variants:
        columns += [
            ("before_wall", "before s", ">9", ".2f"),
            ("after_wall", "after s", ">8", ".2f"),
            ("wall_ratio", "ratio", ">6", ".2f"),
            ("before_cpu", "before cpu", ">11", ".2f"),
            ("after_cpu", "after cpu", ">10", ".2f"),
            ("cpu_ratio", "ratio", ">6", ".2f"),
            ("same_output", "same out", ">9", ""),
        ]
    else:
        columns += [("after_wall", "wall s", ">8", ".2f"), ("after_cpu", "cpu s", ">8", ".2f")]
    print(
        f"medians of {options.repeat} cold runs each ({heavy_repeat} for {', '.join(sorted(HEAVY & set(commands)))}; "
        "first round dropped); ratio = after / before"
    )
    print(f"load average (1, 5, 15 min) at start {load[0]}, at end {load[-1]}; the machine is shared\n")
    print_table(rows, columns)
    for row in rows:
        print(f"  {row['name']}: {row['command']}")

    extra: list[dict[str, Any]] = []
    if options.gx_split:
        split = gx_split(commands.get("validate", COMMANDS["validate"]))
        print(f"\nvalidate in one process (this checkout), {split['wall']:.2f} s wall in all:")
        print(f"  {'part':<40} {'wall s':>7} {'cpu s':>7}")
        for key, (wall, used) in split["timings"].items():
            print(f"  {key:<40} {wall:7.2f} {used:7.2f}")
        extra.append({"gx_split": split})
    write_results(
        "cli_cost", [*rows, *extra, {"load_average": load, "repeat": options.repeat, "heavy_repeat": heavy_repeat}]
    )


if __name__ == "__main__":
    main()
