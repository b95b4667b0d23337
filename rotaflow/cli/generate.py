"""``rotaflow generate``: one block's schedule, from the bundle to the published outputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.markup import escape

from rotaflow.cli import (
    ProgressOption,
    app,
    examples,
    json_help,
    option_problem,
    out,
    print_json,
    progress_shown,
    refuse_credentials,
    run_summary,
)
from rotaflow.errors import InputError

Contingency = Literal["none", "n1", "n2"]
"""The contingency analysis after validation (the flows' ``contingency``): the command line refuses others."""


@app.command(
    epilog=examples(
        "rotaflow generate --program configs/programs/sample --block B1 --out out/b1",
        "rotaflow generate -p s3://bucket/prog --block next --out out/ --no-backup",
    )
)
def generate(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[
        str,
        typer.Option(
            "--block",
            "-b",
            "--block-id",
            help='block id from blocks.csv, or "next" (the first block starting after today)',
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", "--out-dir", help="folder for assignments.csv, findings.csv, summary.json …")
    ],
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", "--time-limit-seconds", help="solver seconds (default: configs/solver.yaml)"),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "summary.json {run_id, program, block_id, status, objective, best_bound, solve_seconds, "
                "hard_violations, warnings, diagnosis (infeasible), validation, backup, out_dir …}, also when "
                "the run ends with exit code 3"
            ),
        ),
    ] = False,
    contingency: Annotated[
        Contingency,
        typer.Option(
            "--contingency",
            help="after validation: n1 (lose any one person, the default), n2 (any two) or none (skip it)",
        ),
    ] = "n1",
    backup: Annotated[
        bool,
        typer.Option(
            "--backup/--no-backup",
            help="a quick backup after publishing, carrying the run's outputs (the default); --no-backup "
            'publishes without one (summary.json\'s backup is {"skipped": "--no-backup"})',
        ),
    ] = True,
    show_progress: ProgressOption = None,
) -> None:
    """Ingest → preflight → solve → check → export → validate → publish + quick backup of one block's schedule."""
    from rotaflow.flows.warm import api_warm_start, run_settings
    from rotaflow.services.generate import check_out_dir

    survive = solve_options(program, time_limit, contingency)
    check_out_dir(out_dir)  # a file, someone else's folder, rotaflow's own data: refused before anything runs
    with api_warm_start() as api:  # Prefect's temporary API starts while the run's modules load
        from rotaflow.flows.generate import generate_block
    with progress_shown(show_progress, as_json=as_json), run_settings(api):
        state = generate_block(
            program,
            block,
            out_dir=str(out_dir),
            time_limit_seconds=time_limit,
            contingency=survive,
            backup=backup,
            return_state=True,
        )
    show_run(state, "run", as_json=as_json, show=_print_summary)


def solve_options(program: str, time_limit: float | None, contingency: Contingency) -> Contingency:
    """The options generate and repair share, checked before anything runs: no credentials in the bundle's
    address, a positive --time-limit (--contingency is one of its choices already)."""
    refuse_credentials(program)
    if time_limit is not None and not time_limit > 0:
        raise InputError([option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    return contingency


def show_run(state: Any, what: str, *, as_json: bool, show: Callable[[dict[str, object]], None]) -> None:
    """A generate or repair run's summary printed (as JSON, or by ``show``), also a failed run's; then that
    run's error raised (its exit code)."""
    summary, error = run_summary(state, what)
    if as_json:
        print_json(summary)
    else:
        show(summary)
    if error is not None:
        raise error


def _print_summary(summary: dict[str, object]) -> None:
    if summary.get("status") == "not-yet":  # block "next" starts later than the lead window
        out.print(f"[bold]{summary['program']}[/bold]: {escape(str(summary['message']))}", soft_wrap=True)
        return
    out.print(
        f"[bold]{summary['program']}[/bold] block {summary['block_id']}: {summary['status']}, objective "
        f"{summary['objective']} (bound {summary['best_bound']}) in {summary['solve_seconds']} s; "
        f"{summary['hard_violations']} hard violation(s), {summary['warnings']} warning(s)",
        soft_wrap=True,
    )
    diagnosis = cast(list[dict[str, object]], summary.get("diagnosis") or [])
    for item in diagnosis:
        out.print(f"  - {escape(str(item.get('message')))}", soft_wrap=True)
    backup = summary.get("backup")
    if summary.get("published") and isinstance(backup, dict) and backup.get("skipped"):
        out.print("published without a backup (--no-backup)", soft_wrap=True)
    out.print(f"outputs: {summary.get('out_dir')}", soft_wrap=True)
