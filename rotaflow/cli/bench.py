"""``rotaflow bench …``: benchmarks on rotaflow's rule engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rotaflow.cli import app, examples, option_problem
from rotaflow.errors import InputError

bench_app = typer.Typer(
    help="Benchmarks on rotaflow's rule engine.",
    epilog=examples("rotaflow bench curtois Instance1.txt --time-limit 10"),
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command(
    "curtois",
    epilog=examples(
        "rotaflow bench curtois Instance1.txt",
        "rotaflow bench curtois Instance5.txt --time-limit 30 --roster Instance5.csv",
    ),
)
def bench_curtois(
    file: Annotated[Path, typer.Argument(help="a Curtois & Qu instance file (schedulingbenchmarks.org/nrp format)")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds for the solver")] = 60.0,
    workers: Annotated[int, typer.Option(help="solver workers")] = 2,
    seed: Annotated[int, typer.Option(help="solver random seed")] = 0,
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster",
            help="write the roster found to this CSV file (employee,day,shift; one row per worked day)",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="accepted like every command's: the output is always one JSON line "
            "{instance, status, objective (the official one), bound, seconds, roster when written}",
        ),
    ] = False,
) -> None:
    """Solve one benchmark instance; print one JSON line with the official objective."""
    from rotaflow.constraints.benchmark import solve_curtois

    if time_limit <= 0:
        raise InputError([option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    if roster is not None and roster.is_dir():
        raise InputError([option_problem("--roster", "a file to write, not a folder", str(roster))])
    if roster is not None and not roster.parent.is_dir():
        raise InputError([option_problem("--roster", "a file in an existing folder", str(roster))])
    result = solve_curtois(file, time_limit=time_limit, workers=workers, seed=seed, roster_path=roster)
    print(json.dumps(result, separators=(", ", ": ")))  # with or without --json: docs/formats.md's one JSON line
