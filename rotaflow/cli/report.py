"""``rotaflow report``: reports over a program's published schedules (``report year``: the academic year so far)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError

report_app = typer.Typer(
    help="Reports over a program's published schedules.",
    epilog=examples("rotaflow report year -p configs/programs/sample --out out/year-report"),
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")


@report_app.command(
    "year",
    epilog=examples(
        "rotaflow report year -p configs/programs/sample --out out/year-report",
        "rotaflow report year -p bundle/ --out out/yr --until 2027-12-31 --json",
    ),
)
def report_year(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for year.csv, year_report.json, year_report.html")],
    until: Annotated[
        str | None, typer.Option("--until", help="the last day counted (YYYY-MM-DD; default: the last published day)")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=json_help(
                "{program, first, until, residents: [{person_id, pgy, fte, days, leave_days, available_days, shifts, "
                "hours, avg_weekly_hours, calls, calls_per_28, calls_cohort_per_28, nights…, weekends…}], out_dir}"
            ),
        ),
    ] = False,
) -> None:
    """Per resident, the academic year so far: calls, nights, weekends and hours from the published blocks and
    history.csv, leave taken, and each per FTE against the mean of their PGY (table and charts)."""
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files
    from rotaflow.services.ingest import database_engine, load_bundle
    from rotaflow.services.year_report import write_year_report, year_report

    refuse_credentials(program)
    last: dt.date | None = None
    if until is not None:
        try:
            last = dt.date.fromisoformat(until)
        except ValueError:
            raise InputError([option_problem("--until", "a date YYYY-MM-DD", until)]) from None
    check_out_dir(out_dir)
    settings = get_settings()
    bundle = load_bundle(program, settings=settings)
    engine = database_engine(settings)
    try:
        report = year_report(engine, bundle, until=last)
    finally:
        engine.dispose()
    folder = claim_out_dir(out_dir)
    files = write_year_report(report, folder)
    record_run_files(folder, files)
    if as_json:
        from rotaflow.services.year_report import report_rows

        print_json(
            {
                "program": report.program,
                "first": report.first.isoformat(),
                "until": report.until.isoformat(),
                "residents": report_rows(report),
                "out_dir": str(folder.resolve()),
            }
        )
        return
    table = Table(
        title=escape(f"{report.program}: the year from {report.first} to {report.until}"),
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in ("person", "PGY", "FTE", "leave days", "hours/week", "calls", "nights", "weekends", "holidays"):
        table.add_column(name, no_wrap=True)
    for r in report.residents:
        weeks = max(1, -(-r.days // 7))
        table.add_row(
            escape(r.person_id),
            str(r.pgy),
            f"{r.fte:g}",
            str(r.leave_days),
            f"{r.hours / weeks:.1f}",
            *(
                f"{getattr(r, c)} ({_vs(r.rate(c), report.cohort_mean(r.pgy, c))})"
                for c in ("calls", "nights", "weekends", "holidays")
            ),
        )
    out.print(table, highlight=False)
    out.print(
        f"written to {escape(str(folder.resolve()))} (per 28 available days: resident / PGY mean)", highlight=False
    )


def _vs(rate: float | None, cohort: float | None) -> str:
    return f"{'-' if rate is None else f'{rate:.2f}'}/{'-' if cohort is None else f'{cohort:.2f}'}"
