"""Fairness over the year: four blocks generated in turn with year-scope fairness, against block-only fairness.

    python bench/fairness.py [--time-limit 30] [--blocks 4] [--residents 150] [--synth-seed 1] [--seed 0]
                             [--skip-sample] [--skip-synthetic]

For the sample program and a synthetic one (``rotaflow synth``), each twice in its own embedded database:
the program's rule set with the fairness rule's ``scope: block`` (each block on its own) and with
``scope: year`` (the default: the year so far, per FTE and days available). The first ``--blocks`` blocks are
generated in turn, each solved (``solve_block``, the time limit) with the published history and the year so
far (``prior_loads``) and published, as `rotaflow generate` does. Afterwards the year so far
(``year_report``, the same numbers as `rotaflow report year`) gives, per PGY, the spread (most − fewest) of
calls, nights and weekend shifts per 28 available days at full time; the table shows the mean and the largest
spread over the PGYs, for each scope, and their ratio (year / block: below 1 is fairer). Also each run's total
solve time and objective. Prints a table and writes bench/results/fairness.json. Times and spreads vary with the
machine's load and CP-SAT's search (several workers, a time limit); nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _table import Column, print_table, write_results  # noqa: E402  (bench/ is the script's folder)

SAMPLE = ROOT / "configs" / "programs" / "sample"
CATEGORIES = ("calls", "nights", "weekends")  # the sample and synthetic programs have no holidays


def generate_in_turn(folder: Path, var: Path, scope: str, blocks: int, time_limit: float, seed: int) -> dict[str, Any]:
    """Generate and publish the first ``blocks`` blocks of the bundle at ``folder`` in turn with fairness
    ``scope``, in a fresh embedded database under ``var``; the spreads of the year so far afterwards."""
    os.environ["ROTAFLOW_VAR_DIR"] = str(var)
    os.environ.pop("ROTAFLOW_DATABASE_URL", None)
    os.environ.setdefault("ROTAFLOW_SECRET_KEY", "bench-" + uuid.uuid4().hex + uuid.uuid4().hex)
    from rotaflow.configs.settings import get_settings

    get_settings.cache_clear()  # this run's var dir and embedded database
    from rotaflow.services.generate import history_from_database, load_solver_settings, publish_run, solve_block
    from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
    from rotaflow.services.results import GenerateResult
    from rotaflow.services.year_report import prior_loads, year_report
    from rotaflow.validations.instances import block_instance, rules_for

    settings = get_settings()
    engine = database_engine(settings)
    version = ingest_bundle(str(folder), settings=settings, engine=engine, expectations=False).result.version
    bundle = load_bundle(str(folder), settings=settings)
    rules = rules_for(bundle)
    for rule in rules:
        if rule.name == "fairness":
            rule.params = rule.params.model_copy(update={"scope": scope})
    order = bundle.frames["blocks"].sort_values("start_date")["block_id"].tolist()[:blocks]
    solver = load_solver_settings(time_limit_seconds=time_limit, seed=seed)
    seconds, objectives = 0.0, []
    for block in order:
        start = bundle.frames["blocks"].set_index("block_id").at[block, "start_date"].date()
        instance = block_instance(bundle, block, history=history_from_database(engine, bundle.program.key, start))
        instance.prior = prior_loads(engine, bundle, block)
        began = time.perf_counter()
        result = solve_block(instance, rules, solver)
        seconds += time.perf_counter() - began
        if not result.cells:
            raise SystemExit(f"{folder.name} {block} ({scope}): no schedule ({result.status})")
        objectives.append(result.objective)
        summary = GenerateResult.start(
            run_id=str(uuid.uuid4()),
            program=bundle.program.key,
            program_version=version,
            block_id=block,
            rules=[],
            time_limit_seconds=time_limit,
        ).solved(result)
        publish_run(
            engine,
            program_key=bundle.program.key,
            version=version,
            instance=instance,
            result=result,
            summary=summary,
            started_at=dt.datetime.now(dt.UTC),
        )
    report = year_report(engine, bundle)
    engine.dispose()
    pgys = sorted({r.pgy for r in report.residents})
    out: dict[str, Any] = {"solve_s": round(seconds, 1), "objective": sum(o or 0 for o in objectives)}
    for category in CATEGORIES:
        spreads = [s for s in (report.spread(p, category) for p in pgys) if s is not None]
        out[f"{category}_mean"] = round(statistics.mean(spreads), 3) if spreads else 0.0
        out[f"{category}_max"] = round(max(spreads), 3) if spreads else 0.0
    out["until"] = report.until.isoformat()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=30.0, help="solver seconds per block")
    parser.add_argument("--blocks", type=int, default=4, help="blocks generated in turn")
    parser.add_argument("--residents", type=int, default=150, help="residents of the synthetic program")
    parser.add_argument("--synth-seed", type=int, default=1, help="seed of the synthetic program (rotaflow synth)")
    parser.add_argument("--seed", type=int, default=0, help="CP-SAT seed")
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    from rotaflow.services.synth import write_bundle

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rotaflow-bench-fairness-") as tmp:
        work = Path(tmp)
        cases: list[tuple[str, Path]] = []
        if not args.skip_sample:
            cases.append(("sample", SAMPLE))
        if not args.skip_synthetic:
            synthetic = work / f"synthetic-{args.residents}"
            write_bundle(synthetic, residents=args.residents, seed=args.synth_seed)
            cases.append((f"synthetic {args.residents}", synthetic))
        for label, folder in cases:
            found = {}
            for scope in ("block", "year"):
                found[scope] = generate_in_turn(
                    folder,
                    work / f"var-{label}-{scope}".replace(" ", "-"),
                    scope,
                    args.blocks,
                    args.time_limit,
                    args.seed,
                )
                print(f"{label} ({scope}): done", flush=True)
            row: dict[str, Any] = {"program": label, "blocks": args.blocks}
            for scope in ("block", "year"):
                for key, value in found[scope].items():
                    row[f"{scope}_{key}"] = value
            for category in CATEGORIES:
                block_mean = found["block"][f"{category}_mean"]
                row[f"{category}_ratio"] = (
                    round(found["year"][f"{category}_mean"] / block_mean, 3) if block_mean else None
                )
            rows.append(row)
    print()
    columns: list[Column] = [("program", "program", "<22", "")]
    for category in CATEGORIES:
        columns += [
            (f"block_{category}_mean", f"{category} block", ">14", ".3f"),
            (f"year_{category}_mean", f"{category} year", ">13", ".3f"),
            (f"{category}_ratio", "ratio", ">6", ""),
        ]
    columns += [("block_solve_s", "block s", ">8", ""), ("year_solve_s", "year s", ">7", "")]
    print_table(rows, columns)
    print("(spreads: the mean over the PGYs of most − fewest per 28 available days at full time)")
    write_results("fairness", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
