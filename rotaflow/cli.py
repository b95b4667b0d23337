"""The ``rotaflow`` command line (FORMATS.md section 3).

Exit codes: 0 done; 1 configuration or unexpected error; 2 bad input; 3 infeasible or
violations; 4 a safety gate refused.

Every command with a result takes ``--json``: standard output then holds exactly one JSON document
(its shape is in the option's help) and nothing else; messages, warnings, errors and prompts go to
standard error. A failed run prints its JSON only when the failure has a result to show (a
``generate`` that found violations, say), else nothing. Long work (solving, contingency scenarios,
backup copies) shows progress bars on standard error when it is a terminal (``--progress`` or
``ROTAFLOW_PROGRESS=always`` force them, ``--no-progress`` or ``never`` hide them), never with
``--json``; they show numbers only, never names.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

from rotaflow.configs.settings import get_settings, mask_url
from rotaflow.db.repositories import IngestResult
from rotaflow.errors import GateRefused, InfeasibleError, InputError, Problem, RotaflowError
from rotaflow.events import observing
from rotaflow.files import private_dir, private_file
from rotaflow.progress import ENV_VAR, RichProgress, wanted

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

ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help=f"progress bars on standard error (default: when it is a terminal, or as {ENV_VAR}=always|never "
        "says); never with --json",
        show_default=False,
    ),
]


def _json_help(shape: str) -> str:
    return f"print one JSON document to standard output and nothing else: {shape}"


def _print_json(payload: Any) -> None:
    """The result of a ``--json`` run: one JSON document, alone on standard output."""
    out.print_json(json.dumps(payload, default=str))


@contextlib.contextmanager
def _progress_shown(option: bool | None, *, as_json: bool) -> Iterator[None]:
    """Progress bars on standard error while the block runs, when ``rotaflow.progress.wanted`` says so."""
    if not wanted(option, as_json=as_json, console=err):
        yield
        return
    with RichProgress(err) as shown, observing(shown):
        yield


def _print_version(value: bool) -> None:
    if value:
        from rotaflow import __version__

        out.print(f"rotaflow {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _startup(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print rotaflow's version and exit."),
    ] = False,
) -> None:
    """Check settings and secrets before any command runs."""
    get_settings().check_secrets()


PREFECT_QUIET = "WARNING"
"""Prefect's level on the terminal: its INFO lines (each task run, the temporary server) are not rotaflow's."""


def prefect_defaults(environ: Mapping[str, str], var_dir: Path) -> dict[str, str]:
    """The Prefect settings a CLI run gets where ``environ`` has none (the one place they are set).

    No telemetry: besides calling out, the temporary server's heartbeat service writes to its SQLite
    database while the server starts and fails with "database is locked" (a full traceback). Prefect's
    home (its SQLite database, kept from run to run) is under rotaflow's var dir, where ``rotaflow serve``
    keeps its own.
    """
    wanted = {
        "PREFECT_HOME": str(var_dir / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # the terminal shows Prefect's warnings only; the runs' INFO lines still reach the API (the
        # run's page in the UI), so a worker started by `rotaflow serve` keeps full run logs
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": PREFECT_QUIET,
        "PREFECT_SERVER_LOGGING_LEVEL": PREFECT_QUIET,
        # a busy 2-core machine needs more than Prefect's 20 s to start the temporary server
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    return {name: value for name, value in wanted.items() if name not in environ}


def running_server(home: Path) -> tuple[str, str] | None:
    """The API URL and credential of the `rotaflow serve` server recorded under ``home``, when it answers now."""
    from rotaflow.serve import recorded_server

    return recorded_server(home)


def _private_prefect_home(home: Path) -> None:
    """Prefect's home under var/, and its SQLite database (the runs' parameters and artifacts), the owner's alone.

    The folders made here (var/ too, when missing) are 0700; prefect.db is made 0600 before Prefect's
    temporary server creates it (SQLite keeps an existing file's mode and gives its -wal/-shm files
    the same), or made 0600 if an earlier run left it readable. Not when Prefect keeps its runs in
    another database (PREFECT_SERVER_DATABASE_CONNECTION_URL) or on another server (PREFECT_API_URL).
    """
    private_dir(home)
    database = home / "prefect.db"
    elsewhere = ("PREFECT_API_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
    if database.exists() or not any(os.environ.get(name) for name in elsewhere):
        private_file(database)


def _prefect_environment() -> None:
    """Before Prefect is imported: its defaults, and the running `rotaflow serve` server for the flow runs.

    Without PREFECT_API_URL, each flow run would start Prefect's temporary server (seconds, and the run
    is gone when it stops); a running server takes them instead and shows them in its UI.
    """
    defaults = prefect_defaults(os.environ, get_settings().var_dir)
    if "PREFECT_HOME" in defaults:  # Prefect makes its home's last folder only, var/ may not exist yet
        _private_prefect_home(Path(defaults["PREFECT_HOME"]))
    os.environ.update(defaults)
    if "PREFECT_API_URL" in os.environ:
        return
    found = running_server(Path(os.environ["PREFECT_HOME"]))
    if found is not None:
        os.environ["PREFECT_API_URL"], auth = found
        os.environ.setdefault("PREFECT_API_AUTH_STRING", auth)


@app.command()
def ingest(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")] = True,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help(
                "{program, version, new_version, inserted: {dataset: rows}, soft_deleted: {dataset: rows}, "
                "rows: {file: rows} (empty with --flow), data_docs, database, notes: [added files and "
                "columns accepted but not read]}"
            ),
        ),
    ] = False,
) -> None:
    """Load a program bundle into the database under its contract."""
    _refuse_credentials(program)
    if flow:
        from rotaflow.flows.ingest import ingest_program

        result = cast(IngestResult, ingest_program(program))
        counts: dict[str, int] = {}
        docs = get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    else:
        from rotaflow.services.ingest import ingest_bundle

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
        "notes": result.notes,
    }
    for note in result.notes:  # added files and columns: accepted, not read
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if as_json:
        _print_json(payload)
        return
    state = "new version" if result.created_version else "unchanged"
    out.print(f"[bold]{result.program_key}[/bold]: version {result.version} ({state})")
    if result.created_version:
        table = Table("dataset", "inserted", "soft-deleted")
        for name in result.inserted:
            table.add_row(name, str(result.inserted[name]), str(result.deleted.get(name, 0)))
        out.print(table)
    out.print(f"Data Docs: {docs}")


def _refuse_credentials(program: str) -> None:
    """An ``s3://`` bundle address with credentials in it is refused before a flow run records it
    (Prefect stores a run's parameters) or anything prints it."""
    if program[:5].lower() == "s3://" and mask_url(program) != program:
        expected = "an s3://bucket/prefix without credentials (keys: ROTAFLOW_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY)"
        raise InputError([_option_problem("--program", expected, mask_url(program))])


def docs_path() -> Path:
    return get_settings().resolved_gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


@app.command()
def generate(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    block: Annotated[
        str,
        typer.Option(
            "--block", "-b", help='block id from blocks.csv, or "next" (the first block starting after today)'
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for assignments.csv, findings.csv, summary.json …")],
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="solver seconds (default: configs/solver.yaml)")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help(
                "summary.json {run_id, program, block_id, status, objective, best_bound, solve_seconds, "
                "hard_violations, warnings, diagnosis (infeasible), validation, backup, out_dir …}, also when "
                "the run ends with exit code 3"
            ),
        ),
    ] = False,
    show_progress: ProgressOption = None,
) -> None:
    """Ingest → preflight → solve → check → export → validate → publish + quick backup of one block's schedule."""
    from rotaflow.flows.generate import generate_block
    from rotaflow.services.generate import check_out_dir

    _refuse_credentials(program)
    if time_limit is not None and not time_limit > 0:
        raise InputError([_option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    check_out_dir(out_dir)  # a file, someone else's folder, rotaflow's own data: refused before anything runs
    with _progress_shown(show_progress, as_json=as_json):
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
        _print_json(summary)
    else:
        _print_summary(summary)
    if isinstance(outcome, BaseException):
        raise outcome


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
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help(
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

    _refuse_credentials(program)
    check_out_dir(out_dir, any_folder=True)  # a file or rotaflow's own data: refused before anything runs
    if contingency not in ("none", "n1", "n2"):
        raise InputError([_option_problem("--contingency", "none, n1 or n2", contingency)])
    if contingency != "none" and block is None:
        raise InputError([_option_problem("--block", "a block id for the contingency analysis", "none given")])
    if flow:
        from rotaflow.flows.validate import validate_schedule

        with _progress_shown(show_progress if contingency != "none" else False, as_json=as_json):
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
        from rotaflow.services import validate as service
        from rotaflow.services.ingest import load_bundle
        from rotaflow.validations.schedule import load_schedule, read_schedule_file

        bundle = load_bundle(program, settings=get_settings())
        frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
        with _progress_shown(show_progress if contingency != "none" else False, as_json=as_json):
            result = service.validate(bundle, frame, block_id=block, contingency=contingency)  # type: ignore[arg-type]
        facts = {"program": bundle.program.key, "schedule": schedule.name} | ({"block_id": block} if block else {})
        service.write_validation(out_dir, result, bundle, summary=facts, data_docs=data_docs)
        summary = {**facts, **result.summary(), "out_dir": str(out_dir.resolve())}
        outcome = summary
    if as_json:
        _print_json(summary)
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
    out_dir: Annotated[
        Path, typer.Option("--out", help="a new or empty folder to write the bundle into, or synth's earlier one")
    ],
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    faculty: Annotated[int | None, typer.Option(help="number of faculty (default residents/3)")] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone of the program")] = "Pacific/Honolulu",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help("{out_dir, files: the file names written, people: {resident: n, faculty: n}, seed}"),
        ),
    ] = False,
) -> None:
    """Write a valid synthetic program bundle, for scale tests."""
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files
    from rotaflow.services.synth import MAX_RESIDENTS, build_bundle, write_bundle_files

    if not 3 <= residents <= MAX_RESIDENTS:
        raise InputError([_option_problem("--residents", f"a whole number from 3 to {MAX_RESIDENTS}", str(residents))])
    # a file, a folder of someone else's (a program's bundle), rotaflow's own data: refused before anything is
    # written; a bundle synth wrote earlier (its marker lists its files) is replaced
    folder = check_out_dir(out_dir)
    try:
        bundle = build_bundle(residents=residents, faculty=faculty, seed=seed, timezone=timezone)
    except ValueError as exc:
        raise InputError([_option_problem("options", "values synth accepts", str(exc))]) from exc
    claim_out_dir(folder)
    written = write_bundle_files(folder, bundle)
    record_run_files(folder, written)
    if as_json:
        with (out_dir / "people.csv").open(newline="", encoding="utf-8") as handle:
            roles = [row["role"] for row in csv.DictReader(handle)]
        people = {role: roles.count(role) for role in ("resident", "faculty")}
        _print_json(
            {"out_dir": str(out_dir.resolve()), "files": [p.name for p in written], "people": people, "seed": seed}
        )
        return
    out.print(f"wrote {len(written)} files to {out_dir}")


@app.command()
def sample(
    out_dir: Annotated[
        Path, typer.Option("--out", help="a new or empty folder to write the bundle into, or sample's earlier one")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help=_json_help("{out_dir, files: the file names written}"))
    ] = False,
) -> None:
    """Write the sample program shipped with rotaflow (the bundle `make run` generates), to try or copy."""
    from rotaflow.configs.settings import CONFIG_DIR
    from rotaflow.files import write_private
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files

    folder = check_out_dir(out_dir)
    shipped = sorted(p for p in (CONFIG_DIR / "programs" / "sample").iterdir() if p.is_file())
    claim_out_dir(folder)
    written = [write_private(folder / p.name, p.read_bytes()) for p in shipped]
    record_run_files(folder, written)
    if as_json:
        _print_json({"out_dir": str(out_dir.resolve()), "files": [p.name for p in written]})
        return
    out.print(f"wrote the sample program ({len(written)} files) to {out_dir}")


def _option_problem(option: str, expected: str, got: str) -> Problem:
    return Problem("command line", None, option, expected, got)


DbJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help("{database (password masked), revision: the target, current: the revision now (null: none)}"),
    ),
]


def _current_revision(url: str) -> str | None:
    from rotaflow.db.migrate import current_revision
    from rotaflow.db.session import engine_for

    return current_revision(engine_for(url))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head", as_json: DbJsonOption = False
) -> None:
    """Migrate the database up to a revision (default: head)."""
    from rotaflow.db.migrate import upgrade

    url = get_settings().resolved_database_url
    upgrade(url, revision)
    if as_json:
        _print_json({"database": mask_url(url), "revision": revision, "current": _current_revision(url)})
        return
    out.print(f"database {mask_url(url)} upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str,
        typer.Argument(
            help="target revision: a revision id, a step such as -1, or base (drops every table); no default",
            show_default=False,
        ),
    ],
    confirm: Annotated[
        str | None,
        typer.Option(
            "--confirm",
            help="without a terminal: the target again (base needs it: --confirm base); on a terminal it is typed",
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="a backup configuration instead of configs/backup.yaml")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help(
                "{database (password masked), revision: the target, current: the revision now (null: none), "
                "backup_id: the named backup taken first (null: nothing to downgrade)}"
            ),
        ),
    ] = False,
) -> None:
    """Migrate the database down to an explicit revision, after a named backup of it (base: typed confirmation)."""
    from rotaflow.backups.emergency import name_of
    from rotaflow.db.migrate import downgrade

    url = get_settings().resolved_database_url
    config_path = _config_path(config)
    if revision == "base":
        accepted = ("base", name_of(url))
        if confirm is not None:
            given = confirm
        elif _stdin_is_terminal():
            given = typer.prompt(
                f"Downgrading to base drops every table of {mask_url(url)}. Type base (or the database name "
                f"{name_of(url)}) to go on",
                default="",
                show_default=False,
                err=True,
            )
        else:
            raise GateRefused(
                "downgrading to base drops every table: standard input is not a terminal, so confirm with "
                "--confirm base; nothing was changed"
            )
        if given not in accepted:
            raise GateRefused(f"{given!r} is not base or {name_of(url)}: nothing was changed")
    elif confirm is not None and confirm != revision:
        raise GateRefused(f"--confirm {confirm!r} is not the target revision {revision}: nothing was changed")
    before = _current_revision(url)
    backup_id: str | None = None
    if before is not None:
        created = _create("named", f"before-db-downgrade-to-{revision}", flow=False, config_path=config_path)
        backup_id = str(created["backup_id"])
        err.print(
            f"named backup {backup_id} taken and verified (restore: {created['restore_command']})",
            highlight=False,
            soft_wrap=True,
        )
    downgrade(url, revision)
    if as_json:
        payload = {"database": mask_url(url), "revision": revision, "current": _current_revision(url)}
        _print_json(payload | {"backup_id": backup_id})
        return
    out.print(f"database {mask_url(url)} downgraded to {revision}", soft_wrap=True)


@db_app.command("current")
def db_current(
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=_json_help("{database (password masked), current: its revision (null: none), head: the code's}"),
        ),
    ] = False,
) -> None:
    """Print the database's Alembic revision and the code's head revision."""
    from rotaflow.db.migrate import head_revision

    url = get_settings().resolved_database_url
    current = _current_revision(url)
    if as_json:
        _print_json({"database": mask_url(url), "current": current, "head": head_revision()})
        return
    out.print(f"database: {current or 'none'}; code: {head_revision()}")


@bench_app.command("curtois")
def bench_curtois(
    file: Annotated[Path, typer.Argument(help="a Curtois & Qu instance file (schedulingbenchmarks.org/nrp format)")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds for the solver")] = 60.0,
    workers: Annotated[int, typer.Option(help="solver workers")] = 2,
    seed: Annotated[int, typer.Option(help="solver random seed")] = 0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="accepted like every command's: the output is always one JSON line "
            "{instance, status, objective (the official one), bound, seconds}",
        ),
    ] = False,
) -> None:
    """Solve one benchmark instance; print one JSON line with the official objective."""
    from rotaflow.constraints.benchmark import solve_curtois

    if time_limit <= 0:
        raise InputError([_option_problem("--time-limit", "a positive number of seconds", str(time_limit))])
    result = solve_curtois(file, time_limit=time_limit, workers=workers, seed=seed)
    print(json.dumps(result, separators=(", ", ": ")))  # with or without --json: FORMATS.md's one JSON line


# --------------------------------------------------------------------------- backups and the emergency restore

backup_app = typer.Typer(
    help="Take, list, check, promote and tag backups (tiers in configs/backup.yaml).", no_args_is_help=True
)
app.add_typer(backup_app, name="backup")
restore_app = typer.Typer(
    help="Bring the database back from a backup, through every safety gate.", no_args_is_help=True
)
app.add_typer(restore_app, name="restore")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="a backup configuration instead of configs/backup.yaml")
]
FlowOption = Annotated[bool, typer.Option("--flow/--no-flow", help="run as a Prefect flow (default)")]
CreateJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "{backup_id, tier, name, location, alembic_revision, bytes, files, verified, pruned: the quick backup "
            "ids removed, restore_command}"
        ),
    ),
]
ListJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "{backups: list of {tier, backup_id, taken_at, age, complete, name, bytes, alembic_revision}, "
            "sacred: list of {name, backup_id, tier, location, tagged_at, code_version, alembic_revision, "
            "backup_code_version, note}}"
        ),
    ),
]
VerifyJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "{ok, checked, tiers: {tier: {count, incomplete, newest, age_hours, stale_after_hours, stale, configured, "
            "damaged}}, stale: tier names, not_configured: tier names (never stale), damaged: list of {tier, "
            "backup_id, ok, problems}, restore_tests, restore_failed}, "
            "also when damage ends the run with exit code 1"
        ),
    ),
]
PromoteJson = Annotated[
    bool, typer.Option("--json", help=_json_help("{backup_id, promoted_from, location, retain_until, notes}"))
]
TagJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "{name, backup_id, tier, location, tagged_at, code_version, alembic_revision, backup_code_version, note}"
        ),
    ),
]
EmergencyJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "the restore's summary {status, source, backup_id, message, pre_snapshot, journal, rolled_back, "
            "recovered …}; the plan and the questions still go to standard error"
        ),
    ),
]
RecoverJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help(
            "{flow_run_id, outcome, message, interrupted_after, journal_file, dropped, kept}, "
            'or {"outcome": "nothing to recover"}'
        ),
    ),
]
HistoryJson = Annotated[
    bool,
    typer.Option(
        "--json",
        help=_json_help("a list of journals, oldest first: {started_at, status, backup_id, steps, message …}"),
    ),
]

DEPRECATION_WAIT_SECONDS = 5.0
"""How long a deprecated command name waits after its warning, before it goes on."""


def deprecation_wait(seconds: float) -> None:
    """Wait before a deprecated command goes on (tests replace this function)."""
    time.sleep(seconds)


def deprecated_alias(group: typer.Typer, old: str, new: str, command: Callable[..., Any], *, prefix: str) -> None:
    """Keep the old name ``old`` of a renamed command for a while: hidden from help, it prints a
    deprecation warning, waits ``DEPRECATION_WAIT_SECONDS`` (Ctrl-C stops it) and then runs ``command``.
    """

    @functools.wraps(command)
    def alias(*args: Any, **kwargs: Any) -> Any:
        err.print(
            f"[yellow]DEPRECATED:[/yellow] `rotaflow {prefix} {old}` is now `rotaflow {prefix} {new}`; "
            f"the old name will be removed. Going on in {DEPRECATION_WAIT_SECONDS:g} s (Ctrl-C to stop)…",
            highlight=False,
            soft_wrap=True,
        )
        deprecation_wait(DEPRECATION_WAIT_SECONDS)
        return command(*args, **kwargs)

    group.command(old, hidden=True, help=f"Deprecated name of `{new}`.")(alias)


def _config_path(config: Path | None) -> str | None:
    if config is None:
        return None
    if not config.is_file():
        raise InputError([_option_problem("--config", "an existing backup configuration file", str(config))])
    return str(config)


def _flow_outcome(state: Any) -> Any:
    """A flow's result, or its error raised (rotaflow's errors map to their exit codes)."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _age_text(taken: Any) -> str:
    import datetime as dt

    if taken is None:
        return "?"
    hours = (dt.datetime.now(dt.UTC) - taken).total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


@backup_app.command("create")
def backup_create(
    tier: Annotated[
        str, typer.Option("--tier", help="quick (automatic) or named (before a risky operation)")
    ] = "quick",
    name: Annotated[str | None, typer.Option("--name", help="what the named backup comes before")] = None,
    flow: FlowOption = True,
    config: ConfigOption = None,
    as_json: CreateJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Take a backup of the database, verify it where it is stored, prune the quick tier."""
    if tier not in ("quick", "named"):
        raise InputError([_option_problem("--tier", "quick or named", tier)])
    config_path = _config_path(config)
    with _progress_shown(show_progress, as_json=as_json):
        payload = _create(tier, name, flow=flow, config_path=config_path)
    if as_json:
        _print_json(payload)
        return
    out.print(
        f"[bold]{payload['backup_id']}[/bold] ({payload['tier']}) verified in {payload['location']}", soft_wrap=True
    )
    if payload["pruned"]:
        out.print(f"pruned {len(payload['pruned'])} old quick backup(s)")
    out.print(f"restore: {payload['restore_command']}", soft_wrap=True, highlight=False)


def _create(tier: str, name: str | None, *, flow: bool, config_path: str | None) -> dict[str, Any]:
    if flow:
        from rotaflow.flows.backup import backup

        return cast(
            dict[str, Any],
            _flow_outcome(backup(tier=tier, name=name, config_path=config_path, return_state=True)),  # type: ignore[arg-type]
        )
    from rotaflow.backups.config import load_backup_config
    from rotaflow.services.backup import take_verified_backup

    config = load_backup_config(Path(config_path) if config_path else None)
    return take_verified_backup(tier, name, config=config)  # type: ignore[arg-type]


@backup_app.command("list")
def backup_list(
    tier: Annotated[
        str | None, typer.Option("--tier", help="quick, named, immaculate or sacred (default: all)")
    ] = None,
    config: ConfigOption = None,
    as_json: ListJson = False,
) -> None:
    """Every backup of every tier (or one tier), newest last; sacred tags with what they point at."""
    from rotaflow.backups.config import TIERS, load_backup_config, open_tier_store
    from rotaflow.backups.sets import list_backups
    from rotaflow.backups.tiers import list_sacred

    if tier is not None and tier not in TIERS:
        raise InputError([_option_problem("--tier", ", ".join(TIERS), tier)])
    backup_config = load_backup_config(Path(p) if (p := _config_path(config)) else None)
    backups: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    for name in [tier] if tier else list(TIERS):
        if name == "sacred":
            tags = [t.__dict__ for t in list_sacred(config=backup_config)]
            continue
        for info in list_backups(open_tier_store(name, backup_config)):  # type: ignore[arg-type]
            manifest = info.manifest
            backups.append(
                {
                    "tier": name,
                    "backup_id": info.backup_id,
                    "taken_at": info.taken_at.isoformat() if info.taken_at else None,
                    "age": _age_text(info.taken_at),
                    "complete": info.complete,
                    "name": manifest.name if manifest else None,
                    "bytes": manifest.total_bytes if manifest else None,
                    "alembic_revision": manifest.alembic_revision if manifest else None,
                }
            )
    if as_json:
        _print_json({"backups": backups, "sacred": tags})
        return
    table = Table("tier", "age", "size", "revision")
    table.add_column("backup", overflow="fold")
    table.add_column("name / state", overflow="fold")
    for item in backups:
        size = "?" if item["bytes"] is None else f"{item['bytes'] / 1024:.0f} KB"
        state = item["name"] or ""
        if not item["complete"]:
            state = "[red]INCOMPLETE[/red] " + state
        table.add_row(item["tier"], item["age"], size, item["alembic_revision"] or "-", item["backup_id"], state)
    out.print(table)
    if tags:
        sacred = Table("sacred tag", "points at", "tier", "revision", "tagged at")
        for tag in tags:
            sacred.add_row(tag["name"], tag["backup_id"], tag["tier"], tag["alembic_revision"] or "-", tag["tagged_at"])
        out.print(sacred)
    if not backups and not tags:
        out.print("no backups")


@backup_app.command("verify")
def backup_verify(flow: FlowOption = True, config: ConfigOption = None, as_json: VerifyJson = False) -> None:
    """Re-verify every backup of every tier and say how old each tier's newest backup is."""
    config_path = _config_path(config)
    failure: BaseException | None = None
    if flow:
        from rotaflow.flows.backup import verify_backups

        outcome = verify_backups(config_path=config_path, return_state=True).result(raise_on_failure=False)
        summary = getattr(outcome, "summary", outcome)
        if isinstance(outcome, BaseException):
            failure = outcome
        if not isinstance(summary, dict):
            raise failure or RotaflowError("verify_backups returned no summary")
    else:
        from rotaflow.backups.config import load_backup_config
        from rotaflow.backups.health import verify_all
        from rotaflow.services.backup import verify_failure

        summary = verify_all(load_backup_config(Path(config_path) if config_path else None))
        failure = verify_failure(summary)
    from rotaflow.backups.health import stale_messages

    if as_json:
        _print_json(summary)
    else:
        table = Table("tier", "backups", "age (h)", "limit (h)", "state")
        table.add_column("newest", overflow="fold")
        for tier, facts in summary["tiers"].items():
            state = "[yellow]stale[/yellow]" if facts["stale"] else "ok"
            state = state if facts.get("configured", True) else "not configured"
            state = "[red]damaged[/red]" if facts["damaged"] else state
            age = "-" if facts["age_hours"] is None else f"{facts['age_hours']:.1f}"
            limit = "-" if facts["stale_after_hours"] is None else f"{facts['stale_after_hours']:g}"
            table.add_row(tier, str(facts["count"]), age, limit, state, facts["newest"] or "none")
        out.print(table)
        for item in summary["damaged"]:
            err.print(
                f"[red]damaged:[/red] {item['tier']}/{item['backup_id']}: " + escape("; ".join(item["problems"])),
                highlight=False,
                soft_wrap=True,
            )
        for test in summary.get("restore_tests", []):
            what = f"restore test {test['tier']}/{test['backup_id'] or '-'}: "
            if test.get("skipped"):
                out.print(what + escape(f"not run ({test['skipped']})"), highlight=False, soft_wrap=True)
            elif test["ok"]:
                out.print(what + f"restored into a scratch database and checked ({test['tables_checked']} tables)")
            else:
                err.print(
                    f"[red]{escape(what)}failed:[/red] " + escape("; ".join(test["problems"])),
                    highlight=False,
                    soft_wrap=True,
                )
    for line in stale_messages(summary):
        err.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False, soft_wrap=True)
    if failure is not None:
        raise failure


def _promote(
    backup_id: Annotated[str, typer.Argument(help="a quick or named backup id")],
    name: Annotated[str | None, typer.Option("--name", help="a name for the baseline")] = None,
    flow: FlowOption = True,
    config: ConfigOption = None,
    as_json: PromoteJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Make a backup a new immaculate baseline: scratch restore, checks, upload under Object Lock."""
    config_path = _config_path(config)
    with _progress_shown(show_progress, as_json=as_json):
        payload = _promotion(backup_id, name, flow=flow, config_path=config_path)
    if as_json:
        _print_json(payload)
        return
    out.print(
        f"[bold]{payload['backup_id']}[/bold]: immaculate baseline in {payload['location']}, "
        f"locked until {payload['retain_until']}",
        soft_wrap=True,
    )
    for note in payload["notes"]:
        out.print(f"  - {escape(note)}", soft_wrap=True)


def _promotion(backup_id: str, name: str | None, *, flow: bool, config_path: str | None) -> dict[str, Any]:
    if flow:
        from rotaflow.flows.backup import promote_immaculate_flow

        return cast(
            dict[str, Any],
            _flow_outcome(promote_immaculate_flow(backup_id, name=name, config_path=config_path, return_state=True)),
        )
    from rotaflow.backups.config import load_backup_config
    from rotaflow.services.backup import promote

    return promote(backup_id, name, config=load_backup_config(Path(config_path) if config_path else None))


backup_app.command("promote-immaculate")(_promote)
deprecated_alias(backup_app, "promote", "promote-immaculate", _promote, prefix="backup")


@backup_app.command("tag")
def backup_tag(
    backup_id: Annotated[str, typer.Argument(help="the backup the milestone points at")],
    name: Annotated[str, typer.Argument(help="the milestone's name: lowercase letters, digits, . _ -")],
    note: Annotated[str | None, typer.Option("--note", help="why this is a milestone")] = None,
    config: ConfigOption = None,
    as_json: TagJson = False,
) -> None:
    """Tag a backup as a sacred milestone (never moved): records the code version and Alembic revision."""
    from rotaflow.backups.config import load_backup_config
    from rotaflow.backups.tiers import tag_sacred

    config_path = _config_path(config)
    tag = tag_sacred(backup_id, name, note=note, config=load_backup_config(Path(config_path) if config_path else None))
    if as_json:
        _print_json(tag.__dict__)
        return
    out.print(
        f"sacred tag [bold]{tag.name}[/bold] → {tag.backup_id} ({tag.tier}), revision {tag.alembic_revision}",
        soft_wrap=True,
    )


def _stdin_is_terminal() -> bool:
    """Whether an operator sits at standard input (the backup id can be typed there)."""
    return sys.stdin.isatty()


@restore_app.command("emergency")
def restore_emergency(
    source: Annotated[str, typer.Option("--from", help="quick, named, immaculate or sacred")],
    backup_id: Annotated[str, typer.Option("--backup", help="the backup id (for sacred: the tag name)")],
    confirm_id: Annotated[
        str | None,
        typer.Option(
            "--confirm-id",
            help="without a terminal (scripts): the backup id, exactly (for sacred: the id the tag points at); "
            "on a terminal the id is typed instead",
        ),
    ] = None,
    legacy_confirm: Annotated[bool, typer.Option("--confirm", hidden=True, help="removed: use --confirm-id")] = False,
    keep_previous: Annotated[
        bool, typer.Option("--keep-previous", help="keep the replaced database instead of dropping it")
    ] = False,
    config: ConfigOption = None,
    as_json: EmergencyJson = False,
    show_progress: ProgressOption = None,
) -> None:
    """Restore the live database from a backup: disk check, verify, pre-snapshot, confirmation (the backup
    id typed, or --confirm-id without a terminal), restore into a new database and switch, verify; rolled
    back automatically when it fails.
    """
    from rich.markdown import Markdown

    from rotaflow.backups.emergency import SOURCES, preview_text
    from rotaflow.flows.restore import OperatorConfirmation, emergency_restore_confirmed

    if legacy_confirm:
        expected = "--confirm-id <the backup id> (--confirm no longer skips the question)"
        raise InputError([_option_problem("--confirm", expected, "--confirm")])
    if source not in SOURCES:
        raise InputError([_option_problem("--from", ", ".join(SOURCES), source)])
    config_path = _config_path(config)
    plan, summary = preview_text(source, backup_id, config_path=config_path)
    err.print(Markdown(summary))
    if confirm_id is not None:
        if confirm_id != plan.backup_id:
            raise GateRefused(f"--confirm-id {confirm_id!r} is not the backup id {plan.backup_id}: nothing was changed")
        confirmation = OperatorConfirmation(confirm_id, "command-line")
    elif not _stdin_is_terminal():
        raise GateRefused(
            "standard input is not a terminal, so the backup id cannot be typed: run the command at a terminal, "
            f"or pass --confirm-id {plan.backup_id} to confirm it from a script; nothing was changed"
        )
    else:
        typed = typer.prompt("Type the backup id to restore it", default="", show_default=False, err=True)
        if typed != plan.backup_id:
            raise GateRefused(f"the typed id {typed!r} is not {plan.backup_id}: nothing was changed")
        if not typer.confirm("Replace the live database now?", default=False, err=True):
            raise GateRefused("not confirmed: nothing was changed")
        confirmation = OperatorConfirmation(typed, "typed")
    with _progress_shown(show_progress, as_json=as_json):
        state = emergency_restore_confirmed(
            source,  # type: ignore[arg-type]
            backup_id,
            confirmation,
            keep_previous=keep_previous,
            config_path=config_path,
            return_state=True,
        )
    result = _flow_outcome(state)
    if as_json:
        _print_json(result)
        return
    out.print(f"[green]restored[/green] {escape(str(result['message']))}", soft_wrap=True)
    out.print(f"pre-snapshot: {result.get('pre_snapshot') or 'none'}; journal: {result.get('journal')}", soft_wrap=True)
    if result.get("recovered"):
        out.print(f"recovered an interrupted restore first: {escape(result['recovered']['message'])}", soft_wrap=True)


@restore_app.command("recover")
def restore_recover(config: ConfigOption = None, as_json: RecoverJson = False) -> None:
    """Recover a restore that was interrupted (killed): make the live database whole, say what was done."""
    from rotaflow.backups.config import load_backup_config, work_dir
    from rotaflow.backups.emergency import recover_interrupted
    from rotaflow.backups.journal import journal_folder, restore_lock

    config_path = _config_path(config)
    backup_config = load_backup_config(Path(config_path) if config_path else None)
    live = get_settings().resolved_database_url
    with restore_lock(journal_folder(work_dir(backup_config), live)):
        recovery = recover_interrupted(live, config=backup_config, config_path=config_path)
    payload = recovery.as_dict() if recovery else {"outcome": "nothing to recover"}
    if as_json:
        _print_json(payload)
    elif recovery is None:
        out.print("no interrupted restore: nothing to recover")
    else:
        out.print(f"[bold]{recovery.outcome}[/bold]: {escape(recovery.message)}", soft_wrap=True)
        out.print(f"journal: {recovery.journal_file}", soft_wrap=True)


@restore_app.command("history")
def restore_history(
    last: Annotated[int, typer.Option("--last", help="how many runs to show")] = 10,
    config: ConfigOption = None,
    as_json: HistoryJson = False,
) -> None:
    """The journals of the last emergency restores of this database: what each did."""
    from rotaflow.backups.config import load_backup_config, work_dir
    from rotaflow.backups.journal import history, journal_folder

    config_path = _config_path(config)
    folder = journal_folder(
        work_dir(load_backup_config(Path(config_path) if config_path else None)), get_settings().resolved_database_url
    )
    runs = history(folder)[-max(1, last) :]
    if as_json:
        _print_json(runs)
        return
    table = Table("started", "status", "backup", "last step", "message")
    for run in runs:
        table.add_row(
            str(run.get("started_at")),
            str(run.get("status")),
            str(run.get("backup_id")),
            str(run.get("steps", [{}])[-2].get("step") if len(run.get("steps", [])) > 1 else "-"),
            escape(str(run.get("message", ""))[:200]),
        )
    out.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address the Prefect server binds to (loopback unless told otherwise)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="the server's port (UI and API)")] = 4200,
    deploy: Annotated[bool, typer.Option("--deploy/--no-deploy", help="register prefect.yaml's deployments")] = True,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="start a worker on rotaflow-process")] = True,
) -> None:
    """A local Prefect server (its own database: SQLite under var/prefect, or ROTAFLOW_PREFECT_DATABASE_URL;
    API auth required), the work pool, deployments and a worker.

    The credential is ROTAFLOW_PREFECT_AUTH_STRING, else var/prefect/auth-string (generated, mode 0600).
    Ctrl-C stops the worker and the server.
    """
    from rotaflow.serve import ServeConfig
    from rotaflow.serve import serve as run_serve

    config = ServeConfig(
        host=host,
        port=port,
        deploy=deploy,
        worker=worker,
        log=lambda line: out.print(line, markup=False, highlight=False, soft_wrap=True),
    )
    raise typer.Exit(run_serve(config))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning rotaflow's errors into their exit codes."""
    try:
        _prefect_environment()
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
