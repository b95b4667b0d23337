"""``rotaflow validate``: check any schedule against a program."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
)
from rotaflow.cli.generate import Contingency
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InfeasibleError, InputError, RotaflowError


@app.command(
    epilog=examples(
        "rotaflow validate -p bundle/ -s out/b1/assignments.csv --out out/v1",
        "rotaflow validate -p bundle/ -s theirs.csv --out v2/ -b B2 --contingency n1",
    )
)
def validate(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    schedule: Annotated[Path, typer.Option("--schedule", "-s", help="assignments.csv of any origin")],
    out_dir: Annotated[
        Path, typer.Option("--out", "--out-dir", help="folder for findings.csv, report.html, validation.json")
    ],
    block: Annotated[
        str | None,
        typer.Option("--block", "-b", "--block-id", help="validate this block (default: the schedule's dates)"),
    ] = None,
    contingency: Annotated[
        Contingency, typer.Option("--contingency", help="none, n1 (lose any one person) or n2 (any two); needs --block")
    ] = "none",
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")] = True,
    data_docs: Annotated[bool, typer.Option("--data-docs/--no-data-docs", help="GX Data Docs of the outputs")] = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "validation.json's summary {program, schedule, block_id, period_start, period_end, blocks, verdict, "
                "assignments, hard_violations, warnings, infos, findings_by_rule, utilisation_by_block, burnout_bands, "
                "seconds, contingency (with --contingency), out_dir}, also when "
                "violations end the run with exit code 3"
            ),
        ),
    ] = False,
    show_progress: ProgressOption = None,
) -> None:
    """Validate any schedule against a program: ACGME, coverage, program rules, burnout risk, contingency."""
    from rotaflow.services.generate import check_out_dir

    refuse_credentials(program)
    check_out_dir(out_dir, any_folder=True)  # a file or rotaflow's own data: refused before anything runs
    if contingency != "none" and block is None:
        raise InputError([option_problem("--block", "a block id for the contingency analysis", "none given")])
    if flow:
        from rotaflow.flows.warm import api_warm_start, run_settings

        modules = ["rotaflow.flows.validate", "rotaflow.validations.report"]
        modules += ["rotaflow.validations.expectations", "great_expectations"] if data_docs else []
        modules += ["rotaflow.flows.contingency"] if contingency != "none" else []
        with api_warm_start(modules) as api:  # Prefect's temporary API starts while the run's modules load
            from rotaflow.flows.validate import validate_schedule
        with progress_shown(show_progress if contingency != "none" else False, as_json=as_json), run_settings(api):
            state = validate_schedule(
                program,
                str(schedule),
                out_dir=str(out_dir),
                block_id=block,
                contingency=contingency,
                data_docs=data_docs,
                return_state=True,
            )
        outcome = state.result(raise_on_failure=False)
        if isinstance(outcome, InputError):
            raise outcome
        summary = getattr(outcome, "summary", outcome if isinstance(outcome, dict) else None)
        if summary is None:
            raise outcome if isinstance(outcome, BaseException) else RotaflowError(str(state.message))
    else:
        from rotaflow.services import validate as service
        from rotaflow.services.ingest import load_bundle
        from rotaflow.validations.schedule import load_schedule, read_schedule_file

        bundle = load_bundle(program, settings=get_settings())
        frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
        with progress_shown(show_progress if contingency != "none" else False, as_json=as_json):
            result = service.validate(bundle, frame, block_id=block, contingency=contingency)
        facts = service.validation_facts(bundle.program.key, schedule.name, block)
        service.write_validation(out_dir, result, bundle, summary=facts, data_docs=data_docs)
        summary = service.validation_result(result, facts, out_dir).as_dict()
        outcome = summary
    if as_json:
        print_json(summary)
    else:
        verdict = "[green]passed[/green]" if not summary["hard_violations"] else "[red]failed[/red]"
        out.print(
            f"[bold]{summary['program']}[/bold] {summary['period_start']} – {summary['period_end']}: {verdict}; "
            f"{summary['hard_violations']} violation(s), {summary['warnings']} warning(s)",
            soft_wrap=True,
        )
        out.print(f"outputs: {summary.get('out_dir')}", soft_wrap=True)
    if isinstance(outcome, BaseException):
        raise outcome
    if summary["hard_violations"]:
        raise InfeasibleError(f"{summary['hard_violations']} hard violation(s); see {out_dir / 'findings.csv'}")
