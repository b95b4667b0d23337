"""``rotaflow plan-year``: the academic year's rotations planned by CP-SAT (rotation_assignments.csv,
plan_summary.json, year.html)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InfeasibleError, InputError


@app.command(
    "plan-year",
    epilog=examples(
        "rotaflow plan-year -p configs/programs/sample --out out/year",
        "rotaflow plan-year -p bundle/ --out out/year --vacation soft --publish",
    ),
)
def plan_year(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for rotation_assignments.csv, plan_summary.json and year.html")
    ],
    time_limit: Annotated[float, typer.Option("--time-limit", "--time-limit-seconds", help="solver seconds")] = 60.0,
    vacation: Annotated[
        Literal["hard", "soft"],
        typer.Option(
            "--vacation",
            help="hard (the default): a blocking vacation needs a rotation that allows leave in its block; soft: "
            "granted where possible, the others reported (other absences stay hard)",
        ),
    ] = "hard",
    publish: Annotated[
        bool,
        typer.Option(
            "--publish",
            help="store the plan as the program's year plan (the bundle is ingested first): generate then takes a "
            "block's rotations from it when rotation_assignments.csv has no row for that block",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "plan_summary.json {program, status, objective, best_bound, gap, solve_seconds, unmet, diagnosis, "
                "…} with out_dir, files and published (the plan's number, or null), also when the plan is "
                "impossible (exit code 3)"
            ),
        ),
    ] = False,
) -> None:
    """Plan which rotation each resident does in each block of the year: every PGY requirement and rotation
    capacity met, locked rows kept, leave on rotations that allow it, wishes granted where possible."""
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files
    from rotaflow.services.ingest import database_engine, ingest_bundle, load_bundle
    from rotaflow.services.results import YearResult
    from rotaflow.services.year import plan_summary, publish_plan, run_plan, write_plan

    refuse_credentials(program)
    if not time_limit > 0 or time_limit == float("inf"):
        raise InputError([option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    check_out_dir(out_dir)  # refused before anything is read
    settings = get_settings()
    bundle = load_bundle(program, settings=settings, year_plan=False)
    plan = run_plan(bundle, time_limit=time_limit, vacation=vacation)
    folder = claim_out_dir(out_dir)
    files = write_plan(bundle, plan, folder)
    record_run_files(folder, files)
    result = YearResult.of(plan_summary(plan), out_dir=folder, files=files)
    if publish and plan.planned:
        engine = database_engine(settings)
        try:
            ingest_bundle(program, settings=settings, engine=engine)
            result = result.published_as(publish_plan(engine, bundle, plan))
        finally:
            engine.dispose()
    summary = result.as_dict()
    if as_json:
        print_json(summary)
    else:
        _print(summary)
    if not plan.planned:
        what = (
            "the year cannot be planned: " + "; ".join(g.message for g in plan.result.diagnosis)
            if plan.result.diagnosis
            else f"no plan was found within {time_limit:g} s ({plan.result.status})"
        )
        raise InfeasibleError(f"{what}; see {folder.resolve() / 'year.html'}", summary=summary)


def _print(summary: dict[str, Any]) -> None:
    status = summary["status"]
    line = f"[bold]{escape(str(summary['program']))}[/bold]: {summary['residents']} residents × {summary['blocks']} "
    line += f"blocks, {status}"
    if summary["objective"] is not None:
        gap = summary["gap"]
        line += f", objective {summary['objective']:g} (bound {summary['best_bound']:g}"
        line += f", gap {gap:.1%})" if gap is not None else ")"
    line += f" in {summary['solve_seconds']} s"
    out.print(line, highlight=False, soft_wrap=True)
    unmet = summary["unmet"]
    if unmet:
        out.print(f"{len(unmet)} wish(es) or leave not granted (see year.html):", highlight=False)
        for item in unmet[:10]:
            block = f"block {item['block_id']}"
            out.print(
                f"  {escape(item['person_id'])} {block}: {escape(item['reason'])}", highlight=False, soft_wrap=True
            )
    out.print(f"written to {escape(summary['out_dir'])}", highlight=False, soft_wrap=True)
    if summary["published"] is not None:
        out.print(f"published as year plan {summary['published']}", highlight=False)
