"""``rotaflow absence …``: record absences in a program bundle folder."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.markup import escape

from rotaflow.cli import app, examples, option_problem, out, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError
from rotaflow.validations.vocabulary import ABSENCE_TYPES

absence_app = typer.Typer(
    help="Record absences in a program bundle folder.",
    epilog=examples(
        "rotaflow absence add -p bundle/ --person R3 --type sick \\", "  --from 2027-07-12 --to 2027-07-14"
    ),
    no_args_is_help=True,
)
app.add_typer(absence_app, name="absence")


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError([option_problem(option, "a date (YYYY-MM-DD)", value)]) from None


@absence_app.command(
    "add",
    epilog=examples(
        "rotaflow absence add -p bundle/ --person R3 --type sick \\",
        "  --from 2027-07-12 --to 2027-07-14",
        "rotaflow absence add -p bundle/ --person R3 --type conference \\",
        "  --from 2027-08-02 --to 2027-08-02 --not-blocking",
    ),
)
def absence_add(
    program: Annotated[str, typer.Option("--program", "-p", help="the bundle folder (not a .zip or s3:// copy)")],
    person: Annotated[str, typer.Option("--person", "--person-id", help="person_id from people.csv")],
    start: Annotated[str, typer.Option("--from", "--start-date", help="first day of the absence (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--to", "--end-date", help="last day of the absence, inclusive (YYYY-MM-DD)")],
    kind: Annotated[str, typer.Option("--type", "--absence-type", help="one of " + ", ".join(ABSENCE_TYPES))],
    not_blocking: Annotated[
        bool,
        typer.Option("--not-blocking", help="the person may still be scheduled (it is reported); default: blocking"),
    ] = False,
) -> None:
    """Append an absence to the bundle's absences.csv after checking it; the next `repair` reads it."""
    from rotaflow.services.absences import record_absence

    refuse_credentials(program)
    first, last = _date("--from", start), _date("--to", end)
    added = record_absence(
        program,
        person_id=person.strip(),
        start=first,
        end=last,
        type=kind.strip(),
        blocking=not not_blocking,
        settings=get_settings(),
    )
    what = f"{escape(person.strip())} {first.isoformat()} – {last.isoformat()} ({escape(kind.strip())})"
    if added.written:
        out.print(f"absence of {what} added to {escape(str(added.path))}", highlight=False, soft_wrap=True)
    else:
        out.print(f"absence of {what} already recorded in {escape(str(added.path))}", highlight=False, soft_wrap=True)
