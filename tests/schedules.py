"""Helpers for tests that need a real schedule: relax the tiny bundle and solve one block."""

from __future__ import annotations

import csv
from pathlib import Path

from rotaflow.services import generate as service
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.instances import block_instance, rules_for

ASSIGNMENT_COLUMNS = [
    "person_id",
    "date",
    "shift_id",
    "start",
    "end",
    "hours",
    "rotation_id",
    "source",
    "start_local",
    "end_local",
]


def make_solvable(bundle: Path) -> Path:
    """The tiny bundle as shipped is infeasible in both blocks: relax night cover and move the
    faculty leave to a weekend (see tests/flows/test_generate_flow.py)."""
    for name, old, new in (
        ("coverage.csv", "NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1"),
        ("absences.csv", "F1,2027-08-01,2027-08-03", "F1,2027-08-07,2027-08-08"),
    ):
        text = (bundle / name).read_text()
        assert old in text, f"{old!r} not in {name}"
        (bundle / name).write_text(text.replace(old, new))
    return bundle


def load(folder: Path) -> Bundle:
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()})


def solved_schedule(bundle_dir: Path, block_id: str, out: Path, *, time_limit: float = 20.0) -> Path:
    """Solve ``block_id`` of the bundle and write its assignments.csv to ``out``."""
    bundle = load(bundle_dir)
    instance = block_instance(bundle, block_id)
    settings = service.load_solver_settings(time_limit_seconds=time_limit)
    result = service.solve_block(instance, rules_for(bundle), settings)
    assert result.cells, f"no schedule for {block_id}: {result.status}"
    rows = service.assignment_rows(instance, result.cells)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=ASSIGNMENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out
