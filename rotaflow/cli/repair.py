"""``rotaflow repair``: re-solve a published block from a date, the past frozen, as few changes as possible."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape

from rotaflow.cli import ProgressOption, app, examples, json_help, option_problem, out, progress_shown
from rotaflow.cli.generate import Contingency, show_run, solve_options
from rotaflow.errors import InputError


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError([option_problem(option, "a date (YYYY-MM-DD)", value)]) from None


@app.command(
    epilog=examples(
        "rotaflow repair -p configs/programs/sample -b B1 --out out/r1",
        "rotaflow repair -p bundle/ -b B3 --out out/r3 --from 2027-09-02 --publish",
    )
)
def repair(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[
        str, typer.Option("--block", "-b", "--block-id", help="block id from blocks.csv (with a published version)")
    ],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "--out-dir", help="folder for what generate writes plus changes.csv and changes.html"),
    ],
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from",
            "--from-date",
            help="first day that may change, YYYY-MM-DD (default: tomorrow, or the block's first day if later)",
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="publish the repair as the block's next version (with a quick backup)")
    ] = False,
    allow_churn: Annotated[
        bool, typer.Option("--allow-churn", help="accept a repair the churn guard refuses (configs/solver.yaml)")
    ] = False,
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", "--time-limit-seconds", help="solver seconds (default: configs/solver.yaml)"),
    ] = None,
    contingency: Annotated[
        Contingency, typer.Option("--contingency", help="after validation: n1 (the default), n2 or none")
    ] = "n1",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "summary.json {run_id, program, block_id, status, …, based_on_version, version (published), "
                "repair {from, changes, min_changes_bound, proved_minimal, churn}}, also with exit code 3"
            ),
        ),
    ] = False,
    backup: Annotated[
        bool,
        typer.Option(
            "--backup/--no-backup",
            help="with --publish: a quick backup after publishing (the default); --no-backup publishes without one",
        ),
    ] = True,
    show_progress: ProgressOption = None,
) -> None:
    """Repair a published block after an absence: days before --from stay as published, the rest changes as
    little as every hard rule allows; writes changes.csv and changes.html; --publish makes it the next version."""
    from rotaflow.flows.warm import RUN_MODULES, api_warm_start, run_settings
    from rotaflow.services.generate import check_out_dir

    survive = solve_options(program, time_limit, contingency)
    day = _date("--from", from_date)
    check_out_dir(out_dir)
    with api_warm_start(RUN_MODULES) as api:  # Prefect's temporary API starts while the run's modules load
        from rotaflow.flows.repair import repair_block
    with progress_shown(show_progress, as_json=as_json), run_settings(api):
        state = repair_block(
            program,
            block,
            out_dir=str(out_dir),
            from_date=day,
            publish=publish,
            allow_churn=allow_churn,
            time_limit_seconds=time_limit,
            contingency=survive,
            backup=backup,
            return_state=True,
        )
    show_run(state, "repair", as_json=as_json, show=_print_summary)


def _print_summary(summary: dict[str, object]) -> None:
    facts = cast(dict[str, object], summary.get("repair") or {})
    out.print(
        f"[bold]{summary['program']}[/bold] block {summary['block_id']} repaired from {facts.get('from')} "
        f"(version {summary.get('based_on_version')}): {summary['status']}, {facts.get('changes')} change(s), "
        f"proved minimum {facts.get('min_changes_bound')}; {summary['hard_violations']} hard violation(s), "
        f"{summary['warnings']} warning(s)",
        soft_wrap=True,
    )
    churn = cast(dict[str, object], facts.get("churn") or {})
    for reason in cast(list[str], churn.get("reasons") or []):
        out.print(f"  churn: {escape(reason)}", soft_wrap=True)
    for item in cast(list[dict[str, object]], summary.get("diagnosis") or []):
        out.print(f"  - {escape(str(item.get('message')))}", soft_wrap=True)
    if summary.get("version"):
        out.print(f"published as version {summary['version']}", soft_wrap=True)
    out.print(f"outputs: {summary.get('out_dir')}", soft_wrap=True)
