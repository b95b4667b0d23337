"""The ``rotaflow`` command line (FORMATS.md section 3).

Exit codes: 0 done; 1 configuration or unexpected error; 2 bad input; 3 infeasible or
violations; 4 a safety gate refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

from configs.settings import get_settings, mask_url
from db.repositories import IngestResult
from rotaflow.errors import InfeasibleError, InputError, Problem, RotaflowError

__all__ = ["app", "main"]

app = typer.Typer(
    name="rotaflow",
    help="Generate, check and safeguard medical-residency schedules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and migrate rotaflow's database (Alembic).", no_args_is_help=True)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(help="Benchmarks on rotaflow's rule engine.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)


@app.callback()
def _startup() -> None:
    """Check settings and secrets before any command runs."""
    get_settings().check_secrets()


@app.command()
def ingest(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Load a program bundle into the database under its contract."""
    if flow:
        from flows.ingest import ingest_program

        result = cast(IngestResult, ingest_program(program))
        counts: dict[str, int] = {}
        docs = get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    else:
        from rotaflow.ingest import ingest_bundle

        outcome = ingest_bundle(program)
        result, counts = outcome.result, outcome.row_counts
        report = outcome.expectations
        docs = report.docs_index if report and report.docs_index else docs_path()
    payload = {
        "program": result.program_key,
        "version": result.version,
        "new_version": result.created_version,
        "inserted": result.inserted,
        "soft_deleted": result.deleted,
        "rows": counts,
        "data_docs": str(docs),
        "database": mask_url(get_settings().resolved_database_url),
    }
    if as_json:
        out.print_json(json.dumps(payload))
        return
    state = "new version" if result.created_version else "unchanged"
    out.print(f"[bold]{result.program_key}[/bold]: version {result.version} ({state})")
    if result.created_version:
        table = Table("dataset", "inserted", "soft-deleted")
        for name in result.inserted:
            table.add_row(name, str(result.inserted[name]), str(result.deleted.get(name, 0)))
        out.print(table)
    out.print(f"Data Docs: {docs}")


def docs_path() -> Path:
    return get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


@app.command()
def generate(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[str, typer.Option("--block", "-b", help="block id from blocks.csv")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for assignments.csv, findings.csv, summary.json …")],
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="solver seconds (default: configs/solver.yaml)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to standard output")] = False,
) -> None:
    """Ingest → preflight → solve → check → publish → export one block's schedule."""
    from flows.generate import generate_block

    if time_limit is not None and not time_limit > 0:
        raise InputError([_option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    state = generate_block(program, block, out_dir=str(out_dir), time_limit_seconds=time_limit, return_state=True)
    if state.is_cancelled():
        raise RotaflowError(f"the run was cancelled: {state.message}")
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, InputError):
        raise outcome
    summary = getattr(outcome, "summary", outcome if isinstance(outcome, dict) else None)
    if summary is None:
        raise outcome if isinstance(outcome, BaseException) else RotaflowError(str(state.message))
    if as_json:
        out.print_json(json.dumps(summary, default=str))
    else:
        _print_summary(summary)
    if isinstance(outcome, BaseException):
        raise outcome


def _print_summary(summary: dict[str, object]) -> None:
    out.print(
        f"[bold]{summary['program']}[/bold] block {summary['block_id']}: {summary['status']}, objective "
        f"{summary['objective']} (bound {summary['best_bound']}) in {summary['solve_seconds']} s; "
        f"{summary['hard_violations']} hard violation(s), {summary['warnings']} warning(s)",
        soft_wrap=True,
    )
    diagnosis = cast(list[dict[str, object]], summary.get("diagnosis") or [])
    for item in diagnosis:
        out.print(f"  - {escape(str(item.get('message')))}", soft_wrap=True)
    out.print(f"outputs: {summary.get('out_dir')}", soft_wrap=True)


@app.command()
def validate(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    schedule: Annotated[Path, typer.Option("--schedule", "-s", help="assignments.csv of any origin")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for findings.csv, report.html, validation.json")],
    block: Annotated[
        str | None, typer.Option("--block", "-b", help="validate this block (default: the schedule's dates)")
    ] = None,
    contingency: Annotated[
        str, typer.Option("--contingency", help="none, n1 (lose any one person) or n2 (any two); needs --block")
    ] = "none",
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")] = True,
    data_docs: Annotated[bool, typer.Option("--data-docs/--no-data-docs", help="GX Data Docs of the outputs")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print validation.json to standard output")] = False,
) -> None:
    """Validate any schedule against a program: ACGME, coverage, program rules, burnout risk, contingency."""
    if contingency not in ("none", "n1", "n2"):
        raise InputError([_option_problem("--contingency", "none, n1 or n2", contingency)])
    if contingency != "none" and block is None:
        raise InputError([_option_problem("--block", "a block id for the contingency analysis", "none given")])
    if flow:
        from flows.validate import validate_schedule

        state = validate_schedule(
            program,
            str(schedule),
            out_dir=str(out_dir),
            block_id=block,
            contingency=contingency,  # type: ignore[arg-type]
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
        from rotaflow import validate as service
        from rotaflow.ingest import load_bundle
        from validations.schedule import load_schedule

        bundle = load_bundle(program, settings=get_settings())
        if not schedule.is_file():
            raise InputError([Problem(schedule.name, None, None, "a readable CSV file", "no such file")])
        frame = load_schedule(bundle, schedule.read_bytes(), file=schedule.name)
        result = service.validate(bundle, frame, block_id=block, contingency=contingency)  # type: ignore[arg-type]
        facts = {"program": bundle.program.key, "schedule": schedule.name} | ({"block_id": block} if block else {})
        service.write_validation(out_dir, result, bundle, summary=facts, data_docs=data_docs)
        summary = {**facts, **result.summary(), "out_dir": str(out_dir.resolve())}
        outcome = summary
    if as_json:
        out.print_json(json.dumps(summary, default=str))
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


@app.command()
def synth(
    residents: Annotated[int, typer.Option(help="number of residents (3-300)")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the bundle into")],
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    faculty: Annotated[int | None, typer.Option(help="number of faculty (default residents/3)")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone of the program")] = "Pacific/Honolulu",
) -> None:
    """Write a valid synthetic program bundle, for scale tests."""
    from rotaflow.synth import MAX_RESIDENTS, write_bundle

    if not 3 <= residents <= MAX_RESIDENTS:
        raise InputError([_option_problem("--residents", f"a whole number from 3 to {MAX_RESIDENTS}", str(residents))])
    try:
        written = write_bundle(out_dir, residents=residents, faculty=faculty, seed=seed, timezone=timezone)
    except ValueError as exc:
        raise InputError([_option_problem("options", "values synth accepts", str(exc))]) from exc
    out.print(f"wrote {len(written)} files to {out_dir}")


def _option_problem(option: str, expected: str, got: str) -> Problem:
    return Problem("command line", None, option, expected, got)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Migrate the database up to a revision (default: head)."""
    from db.migrate import upgrade

    url = get_settings().resolved_database_url
    upgrade(url, revision)
    out.print(f"database {mask_url(url)} upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "base") -> None:
    """Migrate the database down to a revision (default: base, which drops every table)."""
    from db.migrate import downgrade

    url = get_settings().resolved_database_url
    downgrade(url, revision)
    out.print(f"database {mask_url(url)} downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's Alembic revision and the code's head revision."""
    from db.migrate import current_revision, head_revision
    from db.session import engine_for

    settings = get_settings()
    engine = engine_for(settings.resolved_database_url)
    out.print(f"database: {current_revision(engine) or 'none'}; code: {head_revision()}")


@bench_app.command("curtois")
def bench_curtois(
    file: Annotated[Path, typer.Argument(help="a Curtois & Qu instance file (schedulingbenchmarks.org/nrp format)")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds for the solver")] = 60.0,
    workers: Annotated[int, typer.Option(help="solver workers")] = 2,
    seed: Annotated[int, typer.Option(help="solver random seed")] = 0,
) -> None:
    """Solve one benchmark instance; print one JSON line with the official objective."""
    from constraints.benchmark import solve_curtois

    if time_limit <= 0:
        raise InputError([_option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    result = solve_curtois(file, time_limit=time_limit, workers=workers, seed=seed)
    print(json.dumps(result, separators=(", ", ": ")))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning rotaflow's errors into their exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except InputError as exc:
        err.print(f"[red]rejected[/red] {escape(exc.source or '')}".rstrip(), highlight=False, soft_wrap=True)
        for problem in exc.problems:
            err.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except RotaflowError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except ValidationError as exc:  # settings from the environment
        for detail in exc.errors():
            name = "ROTAFLOW_" + "_".join(str(p) for p in detail["loc"]).upper()
            err.print(f"[red]error:[/red] {name}: {escape(detail['msg'])}", highlight=False, soft_wrap=True)
        return 1
    except OperationalError as exc:
        url = mask_url(get_settings().resolved_database_url)
        err.print(
            f"[red]error:[/red] the database at {escape(url)} cannot be used: {type(exc.orig).__name__}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, missing value …
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(str(exc), soft_wrap=True, markup=False)
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
