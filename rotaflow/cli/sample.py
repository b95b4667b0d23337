"""``rotaflow sample``: the sample program shipped with rotaflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rotaflow.cli import app, examples, json_help, out, print_json


@app.command(epilog=examples("rotaflow sample --out my-program", "rotaflow sample --out my-program --json"))
def sample(
    out_dir: Annotated[
        Path, typer.Option("--out", help="a new or empty folder to write the bundle into, or sample's earlier one")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help=json_help("{out_dir, files: the file names written}"))
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
        print_json({"out_dir": str(out_dir.resolve()), "files": [p.name for p in written]})
        return
    out.print(f"wrote the sample program ({len(written)} files) to {out_dir}")
