"""A hand-made schedule of the tiny bundle's block B1 for the explain tests (no solver: every fact is known).

B1 runs from Thursday 2027-07-01 (day 0) to Wednesday 2027-07-28. F1 works the faculty DAY on every weekday,
R3 (night float) works NIGHT five nights on and two off, and the two ward residents share the ward's DAY: R1 on
the even days, R2 on the odd ones (R2's history has a 24-hour call starting the day before the block, so R1 takes
day 0). R2 is on blocking leave on Saturday 2027-07-03 (an absence added to the bundle), a day R1 works anyway.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

from tests.conftest import TINY
from tests.schedules import make_solvable

FIRST = dt.date(2027, 7, 1)
DAYS = 28
LEAVE = dt.date(2027, 7, 3)
"""R2's day of blocking leave."""

Row = tuple[str, dt.date, str]


def rows() -> list[Row]:
    out: list[Row] = []
    for day in range(DAYS):
        date = FIRST + dt.timedelta(days=day)
        if date.weekday() < 5:
            out.append(("F1", date, "DAY"))
        if day % 7 < 5:
            out.append(("R3", date, "NIGHT"))
        out.append(("R1" if day % 2 == 0 else "R2", date, "DAY"))
    return out


def bundle_dir(target: Path, *, constraints: str | None = None) -> Path:
    """The solvable tiny bundle copied to ``target``, with R2's leave and, when given, a constraints.yaml."""
    folder = make_solvable(Path(shutil.copytree(TINY, target)))
    with (folder / "absences.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"R2,{LEAVE},{LEAVE},vacation,true\n")
    if constraints is not None:
        (folder / "constraints.yaml").write_text(constraints, encoding="utf-8")
    return folder


def write_csv(path: Path, schedule: list[Row]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["person_id", "date", "shift_id"])
        writer.writerows((p, d.isoformat(), s) for p, d, s in schedule)
    return path
