"""Leave on the far side of a block boundary: builder, checker and validator read it the same way.

The weekly-hours limit of a 28-day window is 80 h × non-leave days ÷ 7 (docs/acgme.md, with
``leave_excluded_from_average``). The windows of a block reach 27 days into the block before it
and 27 days past its end, so leave there (a leave rotation of another block, a blocking absence
outside the block) lowers their limits. In the program below R1 is on a leave rotation for the
whole block before B1, and R3 for the whole block after it: a window with 27 days of leave allows
11.4 hours, less than one 12-hour day shift, on B1's first day for R1 and on its last for R3.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml

from rotaflow.constraints.instance import Cell
from rotaflow.constraints.model import build_model
from rotaflow.constraints.solve import solve
from rotaflow.services.generate import check
from rotaflow.validations.acgme import validate_acgme
from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.instances import block_instance, rules_for
from rotaflow.validations.schedule import load_schedule

B0 = dt.date(2027, 6, 3)
B1 = dt.date(2027, 7, 1)
DAYS = 14
B2 = B1 + dt.timedelta(days=DAYS)
B1_END = B2 - dt.timedelta(days=1)


def leave_program(folder: Path, *, absences: bool = False) -> Bundle:
    """R1 on leave throughout B0, R3 throughout B2 (as leave rotations, or as blocking absences)."""
    rotation = {("R1", "B0"): "VAC", ("R3", "B2"): "VAC"}
    away = []
    if absences:
        rotation = {}
        away = [
            f"R1,{B0},{B1 - dt.timedelta(days=1)},vacation,true",
            f"R3,{B2},{B2 + dt.timedelta(days=27)},vacation,",  # blocking by default
        ]
    residents = ("R1", "R2", "R3")
    files = {
        "program.yaml": yaml.safe_dump(
            {
                "name": "Leave Across Blocks",
                "timezone": "America/New_York",
                "acgme": {"averaging": "rolling_28d", "leave_excluded_from_average": True},
            }
        ),
        "people.csv": "person_id,name,email,role,pgy,fte,skills\n"
        + "".join(f"{r},Resident {r},,resident,2,1,\n" for r in residents),
        "blocks.csv": f"block_id,start_date,end_date\nB0,{B0},{B1 - dt.timedelta(days=1)}\nB1,{B1},{B1_END}\n"
        f"B2,{B2},{B2 + dt.timedelta(days=27)}\n",
        "shifts.csv": "shift_id,name,start,end,transition_minutes,kind,in_house_call,counts_as_work,home_call_hours\n"
        "DAY,Day,07:00,19:00,0,day,false,true,\n",
        "rotations.csv": "rotation_id,name,setting,eligible_shifts\nROT,Ward,inpatient,DAY\nVAC,Vacation,leave,\n",
        "rotation_assignments.csv": "person_id,block_id,rotation_id\n"
        + "".join(f"{r},{b},{rotation.get((r, b), 'ROT')}\n" for r in residents for b in ("B0", "B1", "B2")),
        # every resident is wanted every day (a soft target), so the solver goes to each limit
        "coverage.csv": "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\n"
        "DAY,daily,ROT,resident,,,1,3,3\n",
        "absences.csv": "person_id,start_date,end_date,type,blocking\n" + "".join(a + "\n" for a in away),
        "history.csv": "person_id,date,shift_id\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def weekly(bundle: Bundle, cells: set[Cell] | frozenset[Cell]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(engine checker, validator): the (person, window start) of each weekly-hours violation of B1."""
    instance = block_instance(bundle, "B1")
    rules = [r for r in rules_for(bundle) if r.name == "acgme_weekly_hours"]
    engine = {(v.person or "", instance.date(v.first_day).isoformat()) for v in check(instance, rules, cells)}
    rows = [(p, instance.date(d).isoformat(), s) for p, d, s in sorted(cells)]
    frame = pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])
    report = validate_acgme(bundle, load_schedule(bundle, frame), period=(B1, B1_END))
    found = report.violations[report.violations["rule"] == "acgme_weekly_hours"]
    return engine, {(r.person_id, r.window_start.date().isoformat()) for r in found.itertuples()}


@pytest.mark.parametrize("absences", [False, True], ids=["leave-rotations", "blocking-absences"])
def test_the_solved_block_respects_leave_on_both_sides_and_validates_clean(tmp_path: Path, absences: bool) -> None:
    bundle = leave_program(tmp_path / "program", absences=absences)
    instance = block_instance(bundle, "B1")
    result = solve(build_model(instance, rules_for(bundle)), time_limit=20.0, workers=1, seed=0)
    assert result.status in ("optimal", "feasible") and result.cells
    worked = {(p, d) for p, d, _ in result.cells}
    # the solver does use them elsewhere: the limit binds only next to the leave
    assert ("R1", DAYS - 1) in worked and ("R3", 0) in worked
    assert ("R1", 0) not in worked and ("R3", DAYS - 1) not in worked
    assert weekly(bundle, result.cells) == (set(), set())
    rows = [(p, instance.date(d).isoformat(), s) for p, d, s in sorted(result.cells)]
    report = validate_acgme(
        bundle,
        load_schedule(bundle, pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])),
        period=(B1, B1_END),
    )
    assert report.ok, report.violations.to_dict("records")
    # the instance carries the leave of both neighbouring blocks
    assert set(range(-28, 0)) <= instance.leave_days["R1"] and set(range(DAYS, DAYS + 28)) <= instance.leave_days["R3"]


@pytest.mark.parametrize("absences", [False, True], ids=["leave-rotations", "blocking-absences"])
@pytest.mark.parametrize(
    ("cell", "window"),
    [
        (("R1", 0, "DAY"), ("R1", "2027-06-04")),  # the window B0's 27 last days of leave and B1's first
        (("R3", DAYS - 1, "DAY"), ("R3", "2027-07-14")),  # B1's last day and B2's first 27 days of leave
    ],
    ids=["leave-before", "leave-after"],
)
def test_a_day_shift_next_to_four_weeks_of_leave_is_refused_by_all_three(
    tmp_path: Path, absences: bool, cell: Cell, window: tuple[str, str]
) -> None:
    bundle = leave_program(tmp_path / "program", absences=absences)
    engine, validator = weekly(bundle, {cell})
    assert window in engine and window in validator
    assert engine == validator
    instance = block_instance(bundle, "B1")
    instance.pins = {cell: True}
    rules = [r for r in rules_for(bundle) if r.name in ("acgme_weekly_hours", "one_shift_at_a_time")]
    assert solve(build_model(instance, rules), time_limit=10.0, workers=1, seed=0).status == "infeasible"
