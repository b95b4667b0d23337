"""``rotaflow synth``: a valid synthetic program bundle, for scale tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from rotaflow.cli import app, examples, json_help, option_problem, out, print_json
from rotaflow.errors import InputError


@app.command(
    epilog=examples(
        "rotaflow synth --residents 60 --out synthetic/",
        "rotaflow synth --residents 300 --seed 7 --timezone Europe/Paris --out big/",
    )
)
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
            help=json_help("{out_dir, files: the file names written, people: {resident: n, faculty: n}, seed}"),
        ),
    ] = False,
) -> None:
    """Write a valid synthetic program bundle, for scale tests."""
    from rotaflow.services.generate import check_out_dir, claim_out_dir, record_run_files
    from rotaflow.services.synth import MAX_RESIDENTS, build_bundle, write_bundle_files

    if not 3 <= residents <= MAX_RESIDENTS:
        raise InputError([option_problem("--residents", f"a whole number from 3 to {MAX_RESIDENTS}", str(residents))])
    # a file, a folder of someone else's (a program's bundle), rotaflow's own data: refused before anything is
    # written; a bundle synth wrote earlier (its marker lists its files) is replaced
    folder = check_out_dir(out_dir)
    try:
        bundle = build_bundle(residents=residents, faculty=faculty, seed=seed, timezone=timezone)
    except ValueError as exc:
        raise InputError([option_problem("options", "values synth accepts", str(exc))]) from exc
    claim_out_dir(folder)
    written = write_bundle_files(folder, bundle)
    record_run_files(folder, written)
    if as_json:
        with (out_dir / "people.csv").open(newline="", encoding="utf-8") as handle:
            roles = [row["role"] for row in csv.DictReader(handle)]
        people = {role: roles.count(role) for role in ("resident", "faculty")}
        print_json(
            {"out_dir": str(out_dir.resolve()), "files": [p.name for p in written], "people": people, "seed": seed}
        )
        return
    out.print(f"wrote {len(written)} files to {out_dir}")
