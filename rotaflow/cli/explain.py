"""``rotaflow explain``: why a person has (or does not have) a shift (docs/coordinators.md, “Why does X have this
shift?”).

It reads the block's published version (or, with ``--schedule``, a schedule file and no database) and prints
the coverage the shift fills, the rules that bind the person that day, and for everyone else who could work it
the first rule that keeps them off it or what giving it to them would change in the objective. People are named
by their person_id only, never by name or email.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json, refuse_credentials
from rotaflow.configs.settings import get_settings
from rotaflow.errors import InputError

EXPLANATION_SHAPE = (
    "{program, block_id, version, schedule, person_id, date, shift_id, has_shift, works, rotation, may_work, "
    "coverage: [{shift_id, row, who, minimum, maximum, target, assigned, counts_person, needed}], "
    "binding: [{rule, shifts, finding: {rule, window_start, window_end, value, limit, unit, message}}], "
    "requests: [{shift_id, kind, weight, granted}], "
    "alternatives: [{person_id, shift_id, instead_of, rule, message, cost, costs, legal}], others_ineligible, "
    "left_out}"
)
"""The JSON document of an explanation (``Explanation.as_dict``)."""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError([option_problem("--date", "a date (YYYY-MM-DD)", value)]) from None


@app.command(
    "explain",
    epilog=examples(
        "rotaflow explain -p bundle/ --person R1 --date 2027-07-09",
        "rotaflow explain -p bundle/ -s out/b1/assignments.csv --person R1 \\",
        "  --date 2027-07-09 --shift NIGHT --json",
    ),
)
def explain(
    program: Annotated[str, typer.Option("--program", "-p", help="bundle folder, .zip or s3://bucket/prefix")],
    person: Annotated[str, typer.Option("--person", "--person-id", help="person_id (people.csv) of whom to explain")],
    date: Annotated[str, typer.Option("--date", help="the day, YYYY-MM-DD")],
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift",
            "--shift-id",
            help="shift_id (shifts.csv) to explain (default: the one they work that day, if any)",
        ),
    ] = None,
    block: Annotated[
        str | None,
        typer.Option("--block", "-b", "--block-id", help="block_id of blocks.csv (default: the block holding --date)"),
    ] = None,
    schedule: Annotated[
        Path | None,
        typer.Option(
            "--schedule",
            "-s",
            help="explain this assignments.csv (a run's, or one made elsewhere) instead of the published version; "
            "reads no database",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="try at most this many alternatives (default: all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=json_help(EXPLANATION_SHAPE))] = False,
) -> None:
    """Explain why a person has (or does not have) a shift: the coverage it fills, the rules that bind them
    that day, and for everyone else who could work it the first rule that keeps them off it or the change of
    the objective if it were theirs."""
    from rotaflow.services import explain as service
    from rotaflow.services.ingest import load_bundle
    from rotaflow.services.swaps import block_of

    day = _date(date)
    refuse_credentials(program)
    bundle = load_bundle(program, settings=get_settings())
    person_id, shift_id = person.strip(), None if shift is None else shift.strip()
    block_id = block.strip() if block is not None else block_of(bundle, day, "--date")
    service.check_cell(bundle, block_id, person_id, day, shift_id)
    if schedule is not None:
        from rotaflow.validations.schedule import load_schedule, read_schedule_file

        frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
        dates = frame["date"].map(lambda value: value.date())
        rows = list(zip(frame["person_id"].astype(str), dates, frame["shift_id"].astype(str), strict=True))
        found = service.explain_schedule(
            bundle, block_id, rows, person_id, day, shift_id, source=schedule.name, limit=limit
        )
    else:
        from rotaflow.services.ingest import database_engine, require_ingested

        engine = database_engine(get_settings())
        try:
            require_ingested(engine, bundle, program)
            found = service.explain(engine, bundle, block_id, person_id, day, shift_id, limit=limit)
        finally:
            engine.dispose()
    if as_json:
        print_json(found.as_dict())
        return
    out.print(found.text(), highlight=False, markup=False, soft_wrap=True)
