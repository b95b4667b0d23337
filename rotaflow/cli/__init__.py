"""The ``rotaflow`` command line (docs/formats.md, “The command line”).

Exit codes: 0 done; 1 configuration or unexpected error; 2 bad input; 3 infeasible or
violations; 4 a safety gate refused.

Every command with a result takes ``--json``: standard output then holds exactly one JSON document
(its shape is in the option's help) and nothing else; messages, warnings, errors and prompts go to
standard error. A failed run prints its JSON only when the failure has a result to show (a
``generate`` that found violations, say), else nothing. Long work (solving, contingency scenarios,
backup copies) shows progress bars on standard error when it is a terminal (``--progress`` or
``ROTAFLOW_PROGRESS=always`` force them, ``--no-progress`` or ``never`` hide them), never with
``--json``; they show numbers only, never names.

This package holds the application (``app``), the entry point (``main``) and what every command
shares (the consoles, the ``--json`` and ``--progress`` helpers, the option problems); each command
or group of commands is a module of its own (``ingest``, ``generate``, ``repair``, ``year``, ``validate``, ``synth``,
``sample``, ``rules``, ``serve``, ``history``, ``diff``, ``explain``, ``db``, ``bench``, ``backup``, ``restore``,
``absence``, ``swap``, ``report``), registered on ``app``
in the order ``rotaflow --help`` lists them.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import json
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from rotaflow.configs.settings import get_settings, mask_url
from rotaflow.errors import InputError, Problem, RotaflowError
from rotaflow.events import observing
from rotaflow.files import private_dir, private_file
from rotaflow.progress import ENV_VAR, RichProgress, wanted

__all__ = [
    "ConfigOption",
    "ProgressOption",
    "RotaflowGroup",
    "app",
    "backup_config_path",
    "err",
    "examples",
    "flow_outcome",
    "json_help",
    "main",
    "option_problem",
    "out",
    "prefect_defaults",
    "print_json",
    "progress_shown",
    "refuse_credentials",
    "running_server",
    "stdin_is_terminal",
]


def examples(*lines: str) -> str:
    """A command's help epilog: an "Examples" part, one command line a line (never rewrapped)."""
    return "Examples:\n\n\b\n" + "\n".join("  " + line for line in lines)


def _first_paragraph(text: str) -> str:
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


class RotaflowGroup(TyperGroup):
    """The ``rotaflow`` group: a group's list of commands shows each command's whole first paragraph, wrapped,
    instead of click's 45-character cut ending in "..." (set on every command below, once the tree is built)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pending: list[Any] = [self]
        while pending:
            command = pending.pop()
            for sub in getattr(command, "commands", {}).values():
                if sub.short_help is None and sub.help:
                    sub.short_help = _first_paragraph(sub.help)
                pending.append(sub)


# Help is click's plain formatter (rich_markup_mode=None), set here for every command and group: rich's help
# panels read "[...]" in help texts as markup (and drop it), show a "<bool>" type for every flag, and cut
# long words at the terminal's width with "…"; click's formatter shows the texts as written, flags without a
# type, wraps at word boundaries (never cuts), and keeps the examples' lines ("\b" paragraphs) as they are.
app = typer.Typer(
    name="rotaflow",
    help="Generate, check and safeguard medical-residency schedules.",
    epilog=examples(
        "rotaflow generate --program configs/programs/sample --block next --out out/",
        "rotaflow backup list --tier quick",
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=RotaflowGroup,
)

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
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "--config-path", help="a backup configuration instead of configs/backup.yaml"),
]


def json_help(shape: str) -> str:
    return f"print one JSON document to standard output and nothing else: {shape}"


def print_json(payload: Any) -> None:
    """The result of a ``--json`` run: one JSON document, alone on standard output."""
    out.print_json(json.dumps(payload, default=str))


@contextlib.contextmanager
def progress_shown(option: bool | None, *, as_json: bool) -> Iterator[None]:
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


def refuse_credentials(program: str) -> None:
    """An ``s3://`` bundle address with credentials in it is refused before a flow run records it
    (Prefect stores a run's parameters) or anything prints it."""
    if program[:5].lower() == "s3://" and mask_url(program) != program:
        expected = "an s3://bucket/prefix without credentials (keys: ROTAFLOW_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY)"
        raise InputError([option_problem("--program", expected, mask_url(program))])


def option_problem(option: str, expected: str, got: str) -> Problem:
    """A command-line option's value refused (exit code 2)."""
    return Problem("command line", None, option, expected, got)


def backup_config_path(config: Path | None) -> str | None:
    """The path of a ``--config`` backup configuration, refused when it is not a file."""
    if config is None:
        return None
    if not config.is_file():
        raise InputError([option_problem("--config", "an existing backup configuration file", str(config))])
    return str(config)


def flow_outcome(state: Any) -> Any:
    """A flow's result, or its error raised (rotaflow's errors map to their exit codes)."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def run_summary(state: Any, what: str) -> tuple[dict[str, Any], BaseException | None]:
    """The summary a generate or repair run hands back (also a failed one's, which its error carries) and
    that error, to raise once the summary is shown; a cancelled run, bad input or a run with no summary
    raises at once."""
    if state.is_cancelled():
        raise RotaflowError(f"the {what} was cancelled: {state.message}")
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, InputError):
        raise outcome
    summary = getattr(outcome, "summary", outcome if isinstance(outcome, dict) else None)
    if summary is None:
        raise outcome if isinstance(outcome, BaseException) else RotaflowError(str(state.message))
    return summary, outcome if isinstance(outcome, BaseException) else None


def stdin_is_terminal() -> bool:
    """Whether an operator sits at standard input (the backup id can be typed there)."""
    return sys.stdin.isatty()


def _version_only(args: list[str]) -> bool:
    """Whether the options before any command ask for the version (which prints and exits)."""
    return "--version" in itertools.takewhile(lambda arg: arg.startswith("-"), args)


def _database_unusable(exc: Exception) -> bool:
    """Whether ``exc`` is SQLAlchemy's OperationalError (the database cannot be used). Only a command that
    imported SQLAlchemy can raise it, so the command line itself never imports SQLAlchemy to ask."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI, turning rotaflow's errors into their exit codes; as the command itself (no ``argv``), the
    process then ends without tearing its modules down (``rotaflow.flows.warm.exit_now``: seconds saved)."""
    code = _main(argv)
    if argv is None:
        from rotaflow.flows.warm import exit_now

        exit_now(code)
    return code


def _main(argv: list[str] | None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if not _version_only(args):  # `rotaflow --version` reads no settings and makes no folder
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
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: unknown option, missing value, a value not among the choices …
        message = getattr(exc, "message", None)
        if isinstance(message, str):  # typer's check of a value reads "Value error, 'n3' is not one of …"
            exc.message = message.removeprefix("Value error, ")  # type: ignore[attr-defined]
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(str(exc), soft_wrap=True, markup=False)
        return int(getattr(exc, "exit_code", 2))
    except Exception as exc:  # last: the handlers above are for subclasses of Exception too
        if not _database_unusable(exc):
            raise
        url = mask_url(get_settings().resolved_database_url)
        cause = type(getattr(exc, "orig", exc)).__name__
        err.print(
            f"[red]error:[/red] the database at {escape(url)} cannot be used: {cause}",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    return 0


# The commands, in the order `rotaflow --help` lists them (the groups after the single commands).
# isort: off
from rotaflow.cli import ingest, generate, repair, year, validate, synth, sample, rules, serve, history, diff, explain  # noqa: E402, F401
from rotaflow.cli import db, bench, backup, restore, absence, swap, report  # noqa: E402, F401
