"""Shift-swap benchmark: the legality check of a request, the candidates list, executions under parallel clients.

    python bench/swaps.py [--time-limit 60] [--residents 150] [--block 2027-B01] [--seed 0] [--synth-seed 1]
                          [--clients 8] [--executions 40] [--skip-sample]
                          [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For the sample program's block 2027-B01 and a synthetic program's first block (``rotaflow synth``), each in its
own process and its own PostgreSQL database (created on the server, dropped afterwards):

1. the bundle (a copy with ``swaps: {approval: none}``, so accepting a swap executes it) is ingested and the
   block generated (``solve_block``, the time limit) and published as version 1 (``publish_run``);
2. **request**: what ``rotaflow swap request`` does once its process has started and read the bundle:
   ``swap_context`` (the block's published version, its history, the rules: once per request) and ``check_swap``
   for ~20 random give-aways that look legal (a resident's shift to another resident who works no shift that
   day); the first check (it warms the context's caches) and the median of the rest are reported apart, and
   the median of the checks that found a swap legal (they look at every rule) from the selection in 4.;
3. **candidates**: a fresh ``swap_context`` and ``candidates`` for 5 random residents' shifts (first, median);
4. **executions**: ~40 give-aways legal on version 1, among many people, split between 8 client processes,
   each with its own engine, started together: each files its requests one after the other and accepts each
   as the taker (``request_swap`` + ``accept_swap``: the re-check under the block's and the rows' locks and the
   publishing of a version). Executions per second = executed / wall time; the others are refused (a swap
   executed meanwhile made it illegal) or stale (its shift or taker changed meanwhile). Afterwards the block's
   final version is checked against every hard rule.

Process start and the bundle's reading are excluded (the targets are about the check itself). Times vary
with the machine's load (printed). Targets on the 150-resident program: a request checked in <= 1 s (context
+ check), candidates listed in <= 2 s (context + candidates). Prints two tables and writes
bench/results/swaps.json. Exits 1 when the final schedule breaks a hard rule (a correctness failure; times are
reported, never asserted).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _pg import create_pg, drop_pg  # noqa: E402
from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)

SAMPLE = ROOT / "configs" / "programs" / "sample"
BLOCK = "2027-B01"
CHECKS = 20
CANDIDATES = 5
TARGETS = {"request_s": 1.0, "candidates_s": 2.0}
"""Targets of the 150-resident program (the sample is far below them)."""

Task = tuple[str, str, str, str]
"""A give-away for a client: (person_id, date ISO, shift_id, taker)."""


def _environment(database_url: str, var_dir: str) -> None:
    os.environ["ROTAFLOW_DATABASE_URL"] = database_url
    os.environ["ROTAFLOW_VAR_DIR"] = var_dir
    os.environ.setdefault("ROTAFLOW_SECRET_KEY", "bench-" + uuid.uuid4().hex + uuid.uuid4().hex)


def without_approval(folder: Path, out: Path) -> Path:
    """A copy of the bundle folder whose program.yaml says ``swaps: {approval: none}``."""
    shutil.copytree(folder, out)
    path = out / "program.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    if any(line.startswith("swaps:") for line in lines):
        raise SystemExit(f"{folder}: program.yaml has a swaps: section already; remove it for the benchmark")
    path.write_text("\n".join(lines + ["swaps:", "  approval: none", ""]), encoding="utf-8")
    return out


def _client(database_url: str, var_dir: str, folder: str, tasks: list[Task], start: Any, out: Any) -> None:
    """One client process: its own engine; waits for the others, then requests and accepts its give-aways."""
    _environment(database_url, var_dir)
    from rotaflow.db.session import make_engine
    from rotaflow.errors import InputError
    from rotaflow.services.ingest import load_bundle
    from rotaflow.services.swap_board import SwapRefused, accept_swap, request_swap
    from rotaflow.services.swaps import SwapSpec

    bundle = load_bundle(folder)
    engine = make_engine(database_url)
    outcomes: list[tuple[str, float, str | None]] = []
    start.wait()
    for person, date, shift, taker in tasks:
        started = time.perf_counter()
        rule = None
        try:
            view = request_swap(engine, bundle, SwapSpec(person, dt.date.fromisoformat(date), shift, taker))
            view = accept_swap(engine, bundle, view.id, taker)
            outcome = view.state
        except SwapRefused as exc:
            outcome = "refused"
            rule = str(exc.findings[0]["rule"]) if exc.findings else "no longer possible"
        except InputError:
            outcome = "stale"
        outcomes.append((outcome, time.perf_counter() - started, rule))
    out.put((time.perf_counter(), outcomes))
    engine.dispose()


def _case(label: str, kind: str, folder: Path, block: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run inside a child process, on its own database: publish, then the three measurements."""
    work = Path(args["work"])
    database_url = args["database_url"]
    _environment(database_url, str(work / f"var-{kind}"))
    from rotaflow.configs.settings import get_settings
    from rotaflow.db.migrate import upgrade
    from rotaflow.services.generate import check, load_solver_settings, publish_run, solve_block
    from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
    from rotaflow.services.results import GenerateResult
    from rotaflow.services.swaps import SwapSpec, candidates, check_swap, swap_context
    from rotaflow.services.versions import published_version
    from rotaflow.validations.instances import block_instance, rules_for

    upgrade(database_url)
    settings = get_settings()
    engine = database_engine(settings)
    source = without_approval(folder, work / f"{kind}-no-approval")
    stored = ingest_bundle(str(source), settings=settings, engine=engine, expectations=False).result
    bundle = load_bundle(str(source), settings=settings)
    key = bundle.program.key

    # 1. the published schedule
    started = time.perf_counter()
    instance = block_instance(bundle, block)
    rules = rules_for(bundle)
    solver = load_solver_settings(time_limit_seconds=args["time_limit"], seed=args["seed"])
    result = solve_block(instance, rules, solver)
    generate_s = time.perf_counter() - started
    if not result.cells:
        raise SystemExit(f"{label}: the block did not solve ({result.status})")
    summary = GenerateResult.start(
        run_id=str(uuid.uuid4()),
        program=key,
        program_version=stored.version,
        block_id=block,
        rules=[],
        time_limit_seconds=args["time_limit"],
    ).solved(result)
    publish_run(
        engine,
        program_key=key,
        version=stored.version,
        instance=instance,
        result=result,
        summary=summary,
        started_at=dt.datetime.now(dt.UTC),
    )
    residents = sorted(p.id for p in instance.people if p.role == "resident")
    rng = random.Random(args["seed"])

    # 2. the legality check of a request
    started = time.perf_counter()
    context = swap_context(engine, bundle, block)
    context_s = time.perf_counter() - started
    cells = sorted(c for c in context.cells if c[0] in residents)
    busy = {(p, d) for p, d, _ in context.cells}
    looks_legal = [(SwapSpec(p, d, s, q), q) for p, d, s in cells for q in residents if q != p and (q, d) not in busy]
    sample = rng.sample(looks_legal, min(CHECKS, len(looks_legal)))
    check_times, legal = [], 0
    for spec, taker in sample:
        started = time.perf_counter()
        findings = check_swap(context, spec, taker)
        check_times.append(time.perf_counter() - started)
        legal += not findings

    # 3. who could take a shift
    started = time.perf_counter()
    fresh = swap_context(engine, bundle, block)
    candidates_context_s = time.perf_counter() - started
    candidate_times, takers = [], []
    for person, date, shift in rng.sample(cells, CANDIDATES):
        started = time.perf_counter()
        found = candidates(fresh, person, date, shift)
        candidate_times.append(time.perf_counter() - started)
        takers.append(len(found.takers))

    # 4. executions under parallel clients: give-aways legal on version 1, each shift given once
    wanted = args["executions"]
    chosen: list[Task] = []
    given: set[tuple[str, dt.date, str]] = set()
    legal_times: list[float] = []  # the check of a legal swap looks at every rule: no early refusal
    for spec, taker in rng.sample(looks_legal, len(looks_legal)):
        if len(chosen) == wanted:
            break
        if (spec.person_id, spec.date, spec.shift_id) in given:
            continue
        started = time.perf_counter()
        findings = check_swap(context, spec, taker)
        if findings:
            continue
        legal_times.append(time.perf_counter() - started)
        given.add((spec.person_id, spec.date, spec.shift_id))
        chosen.append((spec.person_id, spec.date.isoformat(), spec.shift_id, taker))
    clients = args["clients"]
    spawn = mp.get_context("spawn")
    start, out = spawn.Barrier(clients + 1), spawn.Queue()
    processes = [
        spawn.Process(
            target=_client,
            args=(database_url, os.environ["ROTAFLOW_VAR_DIR"], str(source), chosen[i::clients], start, out),
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    start.wait()  # every client has read the bundle and made its engine
    began = time.perf_counter()
    finished = [out.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
    wall_s = max(end for end, _ in finished) - began
    outcomes = [outcome for _, done in finished for outcome in done]
    counts = {state: sum(1 for o, _, _ in outcomes if o == state) for state in ("executed", "refused", "stale")}
    refused_rules = Counter(rule for _, _, rule in outcomes if rule)
    final = published_version(engine, key, block)
    assert final is not None
    final_cells = [(p, instance.day_index(d), s) for p, d, s in final.cells]
    final_hard = sum(1 for v in check(instance, rules, final_cells) if v.severity == "violation")
    first_hard = sum(1 for v in check(instance, rules, result.cells) if v.severity == "violation")
    engine.dispose()
    return {
        "program": label,
        "kind": kind,
        "block": block,
        "people": len(instance.people),
        "residents": len(residents),
        "cells": len(result.cells),
        "generate_s": round(generate_s, 1),
        "generate_status": result.status,
        "context_s": round(context_s, 3),
        "check_first_s": round(check_times[0], 3),
        "check_median_s": round(statistics.median(check_times[1:] or check_times), 3),
        "check_max_s": round(max(check_times), 3),
        "request_s": round(context_s + statistics.median(check_times), 3),
        "checks": len(check_times),
        "checks_legal": legal,
        "check_legal_median_s": round(statistics.median(legal_times), 3) if legal_times else None,
        "check_legal_max_s": round(max(legal_times), 3) if legal_times else None,
        "candidates_context_s": round(candidates_context_s, 3),
        "candidates_first_s": round(candidate_times[0], 3),
        "candidates_median_s": round(statistics.median(candidate_times), 3),
        "candidates_s": round(candidates_context_s + statistics.median(candidate_times), 3),
        "candidates_takers": takers,
        "clients": clients,
        "swaps_tried": len(outcomes),
        "executed": counts["executed"],
        "refused": counts["refused"],
        "stale": counts["stale"],
        "other": len(outcomes) - sum(counts.values()),
        "wall_s": round(wall_s, 2),
        "executions_per_s": round(counts["executed"] / wall_s, 2) if wall_s else None,
        "refused_rules": dict(refused_rules.most_common()),
        "swap_median_s": round(statistics.median(t for _, t, _ in outcomes), 3) if outcomes else None,
        "final_version": final.number,
        "final_hard_violations": final_hard,
        "published_hard_violations": first_hard,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        label, kind, source, block, args = sys.argv[2:7]
        print(json.dumps(_case(label, kind, Path(source), block, json.loads(args))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds of the block's generation")
    parser.add_argument("--residents", type=int, default=150, help="residents of the synthetic program")
    parser.add_argument("--block", default=BLOCK, help="the block of both programs")
    parser.add_argument("--seed", type=int, default=0, help="CP-SAT seed and the random swaps' seed")
    parser.add_argument("--synth-seed", type=int, default=1, help="seed of the synthetic program (rotaflow synth)")
    parser.add_argument("--clients", type=int, default=8, help="parallel client processes")
    parser.add_argument("--executions", type=int, default=40, help="give-aways the clients execute in all")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ROTAFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="a server where a database may be created (one per program, dropped afterwards)",
    )
    args = parser.parse_args()
    from rotaflow.services.synth import write_bundle

    work = Path(tempfile.mkdtemp(prefix="rotaflow-bench-swaps-"))
    rows = []
    try:
        synthetic = work / f"synthetic-{args.residents}"
        write_bundle(synthetic, residents=args.residents, seed=args.synth_seed)
        cases = [] if args.skip_sample else [(f"sample {args.block}", "sample", SAMPLE)]
        cases.append((f"synthetic {args.residents} {args.block}", "synthetic", synthetic))
        for label, kind, folder in cases:
            database_url = create_pg(args.postgres_url)
            try:
                options = {
                    "work": str(work),
                    "database_url": database_url,
                    "time_limit": args.time_limit,
                    "seed": args.seed,
                    "clients": args.clients,
                    "executions": args.executions,
                }
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", label, kind, str(folder), args.block, json.dumps(options)],
                    capture_output=True,
                    text=True,
                    check=False,
                    cwd=ROOT,
                )
            finally:
                drop_pg(args.postgres_url, database_url)
            if proc.returncode != 0:
                print(proc.stderr[-5000:], file=sys.stderr)
                raise SystemExit(f"{label}: the case failed (exit {proc.returncode})")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if row["kind"] == "synthetic":
                row["within_target"] = all(row[key] <= limit for key, limit in TARGETS.items())
            else:
                row["within_target"] = None
            row["load"] = [round(x, 2) for x in os.getloadavg()]
            rows.append(row)
            print(f"{label}: done", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns: list[Column] = [
        ("program", "program", "<24", ""),
        ("residents", "residents", ">9", ""),
        ("cells", "cells", ">6", ""),
        ("context_s", "context s", ">9", ".3f"),
        ("check_first_s", "1st check s", ">11", ".3f"),
        ("check_median_s", "check s", ">8", ".3f"),
        ("request_s", "request s", ">9", ".3f"),
        ("checks_legal", "legal", ">5", ""),
        ("check_legal_median_s", "legal check s", ">13", ".3f"),
        ("candidates_context_s", "cand ctx s", ">10", ".3f"),
        ("candidates_median_s", "cand s", ">7", ".3f"),
        ("candidates_s", "cand total s", ">12", ".3f"),
        ("within_target", "met", "<5", ""),
    ]
    print()
    print_table(rows, columns)
    print()
    print_table(
        rows,
        [
            ("program", "program", "<24", ""),
            ("clients", "clients", ">7", ""),
            ("swaps_tried", "tried", ">5", ""),
            ("executed", "executed", ">8", ""),
            ("refused", "refused", ">7", ""),
            ("stale", "stale", ">5", ""),
            ("wall_s", "wall s", ">7", ".1f"),
            ("executions_per_s", "exec/s", ">7", ".2f"),
            ("swap_median_s", "swap s", ">7", ".2f"),
            ("final_version", "version", ">7", ""),
            ("final_hard_violations", "hard", ">4", ""),
        ],
    )
    write_results("swaps", rows)
    broken = [r for r in rows if r["final_hard_violations"] > r["published_hard_violations"]]
    for row in broken:
        print(f"{row['program']}: the final schedule breaks a hard rule", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
