"""Planning the academic year's rotations (``rotaflow plan-year``): the bundle read as a year problem, planned
by ``constraints.year``, written as rotation_assignments.csv, plan_summary.json and year.html.

What the planner reads from the bundle (docs/formats.md, "Year planning inputs"): the residents of people.csv
(faculty are not planned: their rows of rotation_assignments.csv are copied as they are), the blocks in date
order, rotations.csv with its capacity, run and leave columns, rotation_requirements.csv,
rotation_capacity.csv (an empty bound keeps the rotation's own), rotation_requests.csv, the rows of
rotation_assignments.csv (``locked`` ones are kept, the others are where the search starts) and the blocking
absences of absences.csv (each block they touch needs a rotation that allows leave: hard, or for vacation a
wish with ``vacation="soft"``).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from rotaflow.constraints.year import (
    WORKERS,
    Leave,
    PlanResult,
    Requirement,
    Resident,
    Rotation,
    Wish,
    YearProblem,
    plan_year,
)
from rotaflow.db.models import YearPlan as StoredPlan
from rotaflow.db.models import YearPlanRow
from rotaflow.db.repositories import AuditRepository, ProgramRepository, YearPlanRepository
from rotaflow.db.session import Engine, UnitOfWork
from rotaflow.errors import InputError, Problem
from rotaflow.files import write_private
from rotaflow.services.results import BrokenOutput
from rotaflow.validations.bundle import Bundle

__all__ = [
    "LEAVE_SETTINGS",
    "PLAN_COLUMNS",
    "PublishedPlan",
    "YearPlan",
    "checked_plan",
    "publish_plan",
    "published_plan",
    "plan_rows",
    "plan_summary",
    "run_plan",
    "write_plan",
    "year_html",
    "year_problem",
]

LEAVE_SETTINGS = frozenset({"outpatient", "elective", "leave"})
"""Rotation settings that allow leave unless rotations.csv's ``leave_allowed`` says otherwise."""
PLAN_COLUMNS = ["person_id", "block_id", "rotation_id", "locked", "source"]
"""rotation_assignments.csv as plan-year writes it."""
Vacation = Literal["hard", "soft"]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _bool(value: Any, default: bool) -> bool:
    return default if _missing(value) else bool(value)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or all-missing when the file does not have that optional column."""
    return frame[name] if name in frame.columns else pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _frame(bundle: Bundle, name: str) -> pd.DataFrame:
    frame = bundle.frames.get(name)
    return frame if frame is not None else pd.DataFrame()


def block_order(bundle: Bundle) -> list[tuple[str, dt.date, dt.date]]:
    """The blocks of blocks.csv in date order: (block_id, first day, last day)."""
    blocks = bundle.frames["blocks"].sort_values("start_date")
    return [(str(r.block_id), r.start_date.date(), r.end_date.date()) for r in blocks.itertuples()]


def year_problem(bundle: Bundle, *, vacation: Vacation = "hard") -> YearProblem:
    """The bundle's academic year as a planning problem (see the module's docstring)."""
    frames = bundle.frames
    people = frames["people"]
    residents = tuple(
        Resident(str(r.person_id), int(r.pgy))
        for r in people.itertuples()
        if r.role == "resident" and not _missing(r.pgy)
    )
    resident_ids = {r.id for r in residents}
    blocks = block_order(bundle)
    rotations_frame = frames["rotations"]
    rotations = tuple(
        Rotation(
            id=str(row["rotation_id"]),
            setting=str(row["setting"]),
            leave_allowed=_bool(row["leave_allowed"], str(row["setting"]) in LEAVE_SETTINGS),
            min_residents=_int(row["min_residents"]),
            max_residents=_int(row["max_residents"]),
            max_consecutive_blocks=_int(row["max_consecutive_blocks"]),
        )
        for _, row in pd.DataFrame(
            {
                "rotation_id": rotations_frame["rotation_id"],
                "setting": rotations_frame["setting"],
                **{
                    name: _column(rotations_frame, name)
                    for name in ("leave_allowed", "min_residents", "max_residents", "max_consecutive_blocks")
                },
            }
        ).iterrows()
    )
    requirements = tuple(
        Requirement(int(r.pgy), str(r.rotation_id), int(r.min_blocks), _int(r.max_blocks))
        for r in _frame(bundle, "rotation_requirements").itertuples()
    )
    capacity = {
        (str(r.block_id), str(r.rotation_id)): (_int(r.min_residents), _int(r.max_residents))
        for r in _frame(bundle, "rotation_capacity").itertuples()
    }
    assignments = _frame(bundle, "rotation_assignments")
    locked: dict[tuple[str, str], str] = {}
    hint: dict[tuple[str, str], str] = {}
    if len(assignments):
        flags = _column(assignments, "locked")
        for (_, row), flag in zip(assignments.iterrows(), flags, strict=True):
            cell = (str(row["person_id"]), str(row["block_id"]))
            if cell[0] not in resident_ids:
                continue
            (locked if _bool(flag, False) else hint)[cell] = str(row["rotation_id"])
    wishes = tuple(
        Wish(str(r.person_id), str(r.block_id), str(r.rotation_id), r.kind, _int(r.weight) or 1)
        for r in _frame(bundle, "rotation_requests").itertuples()
        if str(r.person_id) in resident_ids
    )
    return YearProblem(
        residents=residents,
        blocks=tuple(b for b, _, _ in blocks),
        rotations=rotations,
        requirements=requirements,
        capacity=capacity,
        locked=locked,
        leave=_leave(bundle, resident_ids, blocks, vacation),
        wishes=wishes,
        hint=hint,
    )


def _leave(
    bundle: Bundle, residents: set[str], blocks: list[tuple[str, dt.date, dt.date]], vacation: Vacation
) -> tuple[Leave, ...]:
    """One leave per resident × block a blocking absence touches: its days inside the block (overlapping
    absences counted once) and their types; soft when every one of them is vacation and ``vacation`` is soft."""
    days: dict[tuple[str, str], set[dt.date]] = {}
    kinds: dict[tuple[str, str], set[str]] = {}
    for r in _frame(bundle, "absences").itertuples():
        if str(r.person_id) not in residents or not _bool(r.blocking, True):
            continue
        first, last = r.start_date.date(), r.end_date.date()
        for block, start, end in blocks:
            lo, hi = max(first, start), min(last, end)
            if lo > hi:
                continue
            key = (str(r.person_id), block)
            days.setdefault(key, set()).update(lo + dt.timedelta(days=n) for n in range((hi - lo).days + 1))
            kinds.setdefault(key, set()).add(str(r.type))
    return tuple(
        Leave(
            person,
            block,
            len(days[person, block]),
            "+".join(sorted(kinds[person, block])),
            soft=vacation == "soft" and kinds[person, block] == {"vacation"},
        )
        for person, block in sorted(days)
    )


# --------------------------------------------------------------------------- running


@dataclass
class YearPlan:
    """A plan and what it was made from."""

    program: str
    problem: YearProblem
    result: PlanResult
    vacation: Vacation
    time_limit: float

    @property
    def planned(self) -> bool:
        return self.result.status in {"optimal", "feasible"}


def run_plan(
    bundle: Bundle,
    *,
    time_limit: float = 60.0,
    vacation: Vacation = "hard",
    workers: int = WORKERS,
    seed: int = 0,
    stop: threading.Event | None = None,
    on_solution: Callable[[float, float, float], None] | None = None,
) -> YearPlan:
    problem = year_problem(bundle, vacation=vacation)
    result = plan_year(
        problem,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        stop=stop,
        on_solution=on_solution,
        diagnosis_seconds=min(60.0, max(5.0, time_limit)),
    )
    return YearPlan(bundle.program.key, problem, result, vacation, time_limit)


# --------------------------------------------------------------------------- outputs


def plan_rows(bundle: Bundle, plan: YearPlan) -> list[dict[str, Any]]:
    """rotation_assignments.csv's rows: every resident × block as planned (``locked`` rows ``locked``), then the
    faculty rows of the bundle's file as they were (``manual``)."""
    rows = []
    for person in plan.problem.residents:
        for block in plan.problem.blocks:
            cell = (person.id, block)
            is_locked = cell in plan.problem.locked
            rows.append(
                {
                    "person_id": person.id,
                    "block_id": block,
                    "rotation_id": plan.result.plan[cell],
                    "locked": "true" if is_locked else "false",
                    "source": "locked" if is_locked else "planned",
                }
            )
    planned = {p.id for p in plan.problem.residents}
    assignments = _frame(bundle, "rotation_assignments")
    if len(assignments):
        flags = _column(assignments, "locked")
        for (_, row), flag in zip(assignments.iterrows(), flags, strict=True):
            if str(row["person_id"]) in planned:
                continue
            rows.append(
                {
                    "person_id": str(row["person_id"]),
                    "block_id": str(row["block_id"]),
                    "rotation_id": str(row["rotation_id"]),
                    "locked": "true" if _bool(flag, False) else "false",
                    "source": "manual",
                }
            )
    return rows


def plan_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The text of rotation_assignments.csv, read back under its contract (``BrokenOutput`` if it breaks it)."""
    from rotaflow.validations.bundle import contract_problems, parse_csv
    from rotaflow.validations.contracts import DATASETS

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PLAN_COLUMNS, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    dataset = DATASETS["rotation_assignments"]
    frame, found = parse_csv(dataset, text.encode("utf-8"))
    if frame is not None:
        unparsed = {(p.row, p.column) for p in found if p.row is not None and p.column is not None}
        found += contract_problems(dataset, frame, unparsed)
    if found:
        problems = "; ".join(str(p) for p in found[:5])
        raise BrokenOutput(f"rotaflow wrote a rotation_assignments.csv that breaks its contract: {problems}")
    return text


def plan_summary(plan: YearPlan) -> dict[str, Any]:
    """plan_summary.json (docs/formats.md): status, objective, best bound, solve seconds, what was not granted,
    the diagnosis of an impossible plan, and the plan's size."""
    result = plan.result
    return {
        "program": plan.program,
        "status": result.status,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "solve_seconds": round(result.seconds, 3),
        "time_limit_seconds": plan.time_limit,
        "vacation": plan.vacation,
        "residents": len(plan.problem.residents),
        "blocks": len(plan.problem.blocks),
        "penalties": result.penalties,
        "unmet": [u.as_dict() for u in result.unmet],
        "diagnosis": [g.as_dict() for g in result.diagnosis],
    }


def write_plan(bundle: Bundle, plan: YearPlan, folder: Path) -> list[Path]:
    """Write plan_summary.json and year.html, and rotation_assignments.csv when there is a plan, into
    ``folder`` (claimed already); the files written."""
    files = []
    if plan.planned:
        text = plan_csv(plan_rows(bundle, plan))
        files.append(write_private(folder / "rotation_assignments.csv", text))
    summary = json.dumps(plan_summary(plan), indent=2, sort_keys=False) + "\n"
    files.append(write_private(folder / "plan_summary.json", summary))
    files.append(write_private(folder / "year.html", year_html(plan)))
    return files


# --------------------------------------------------------------------------- year.html

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:80rem;padding:1.5rem;
color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;margin:.2rem 0 .4rem}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #d0d7de;
padding-bottom:.2rem}
.facts{color:#59636e;margin:.2rem 0 1rem}
table{border-collapse:collapse;font-size:.8rem}
td,th{border:1px solid #d0d7de;padding:.15rem .4rem;text-align:center}
thead th{background:#f6f8fa}th[scope=row]{text-align:left}
td.locked{outline:2px solid #1f2328;outline-offset:-3px}
td.leave{text-decoration:underline dotted}
.over{background:#ffebe9}.under{background:#fff8c5}
.legend span{display:inline-block;padding:.1rem .5rem;margin:.1rem;border-radius:.2rem}
ul.unmet li,ul.diagnosis li{margin:.2rem 0}
footer{margin-top:2rem;font-size:.8rem;color:#59636e}
"""
_PALETTE = (
    "#cfe2ff",  # blue
    "#d1e7dd",  # green
    "#fff3cd",  # yellow
    "#f8d7da",  # red
    "#e2d9f3",  # purple
    "#fde2c4",  # orange
    "#cff4fc",  # cyan
    "#e9ecef",  # grey
    "#f7d6e6",  # pink
    "#dcedc1",  # lime
    "#ffe69c",  # amber
    "#c5b3e6",  # violet
    "#a6e9d5",  # teal
    "#fecba1",  # peach
    "#b6d4fe",  # sky
    "#ced4da",  # slate
)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def year_html(plan: YearPlan) -> str:
    """One self-contained page: the resident × block grid coloured by rotation (locked cells outlined, blocks
    with leave underlined), each rotation's head-count per block against its capacity, what was not granted
    and why, or the diagnosis of an impossible plan. People by person_id only; every text escaped."""
    problem, result = plan.problem, plan.result
    colour = {r.id: _PALETTE[n % len(_PALETTE)] for n, r in enumerate(problem.rotations)}
    title = f"Year plan: {plan.program}"
    facts = [
        f"status {_esc(result.status)}",
        f"{len(problem.residents)} residents × {len(problem.blocks)} blocks",
        f"solved in {result.seconds:.1f} s",
    ]
    if result.objective is not None:
        gap = f", gap {result.gap:.1%}" if result.gap is not None else ""
        facts.append(f"objective {result.objective:g} (bound {result.best_bound:g}{gap})")
    parts: list[str] = []
    if result.diagnosis:
        items = "".join(f"<li>{_esc(g.message)}</li>" for g in result.diagnosis)
        parts.append(
            "<section><h2>Why no plan is possible</h2><p>These rules cannot all hold together; relaxing any one "
            f'of them makes the rest possible:</p><ul class="diagnosis">{items}</ul></section>'
        )
    if plan.planned:
        legend = "".join(f'<span style="background:{colour[r.id]}">{_esc(r.id)}</span>' for r in problem.rotations)
        away = {(item.person, item.block) for item in problem.leave}
        head = "".join(f'<th scope="col">{_esc(b)}</th>' for b in problem.blocks)
        body = []
        for person in problem.residents:
            cells = []
            for block in problem.blocks:
                rotation = result.plan[person.id, block]
                classes = " ".join(
                    c
                    for c, on in (
                        ("locked", (person.id, block) in problem.locked),
                        ("leave", (person.id, block) in away),
                    )
                    if on
                )
                cells.append(f'<td class="{classes}" style="background:{colour[rotation]}">{_esc(rotation)}</td>')
            body.append(
                f'<tr><th scope="row">{_esc(person.id)} <small>PGY-{person.pgy}</small></th>{"".join(cells)}</tr>'
            )
        parts.append(
            f'<section><h2>Rotations</h2><p class="legend">{legend} — outlined: locked; underlined: leave in '
            f"that block</p><table><thead><tr><th>resident</th>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></section>"
        )
        counts = Counter((b, r) for (_, b), r in result.plan.items())
        rows = []
        for spec in problem.rotations:
            cells = []
            for block in problem.blocks:
                low, high = problem.bounds(block, spec.id)
                n = counts[block, spec.id]
                bound = (
                    f"{'' if low is None else low}–{'' if high is None else high}"
                    if (low, high) != (None, None)
                    else ""
                )
                css = "over" if high is not None and n > high else "under" if low is not None and n < low else ""
                cells.append(f'<td class="{css}">{n}{f" <small>({bound})</small>" if bound else ""}</td>')
            rows.append(f'<tr><th scope="row">{_esc(spec.id)}</th>{"".join(cells)}</tr>')
        parts.append(
            "<section><h2>Head-count per block (capacity)</h2>"
            f"<table><thead><tr><th>rotation</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
        )
        if result.unmet:
            items = "".join(
                f"<li><b>{_esc(u.person_id)}</b>, block {_esc(u.block_id)}"
                f"{f', {_esc(u.rotation_id)}' if u.rotation_id else ''} ({_esc(u.kind)}): {_esc(u.reason)}</li>"
                for u in result.unmet
            )
            parts.append(f'<section><h2>Not granted</h2><ul class="unmet">{items}</ul></section>')
        else:
            parts.append("<section><h2>Not granted</h2><p>Every wish and leave was granted.</p></section>")
    elif not result.diagnosis:
        parts.append(f"<section><p>No plan was found ({_esc(result.status)}): give it more time.</p></section>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_esc(title)}</h1><p class="facts">{" · ".join(facts)}</p></header>'
        f"<main>{''.join(parts)}</main>"
        "<footer>generated by rotaflow plan-year; people are shown by person_id; this file is self-contained and "
        "works offline</footer></body></html>\n"
    )


# --------------------------------------------------------------------------- the published plan


@dataclass(frozen=True)
class PublishedPlan:
    """The program's current year plan: its number, the program version it was planned from, its rows."""

    number: int
    program_version: int
    rows: tuple[tuple[str, str, str, bool, str], ...]
    """(person_id, block_id, rotation_id, locked, source)."""

    def frame(self) -> pd.DataFrame:
        """The rows as rotation_assignments.csv's frame."""
        return pd.DataFrame(
            {
                "person_id": pd.Series([r[0] for r in self.rows], dtype=object),
                "block_id": pd.Series([r[1] for r in self.rows], dtype=object),
                "rotation_id": pd.Series([r[2] for r in self.rows], dtype=object),
                "locked": pd.Series([r[3] for r in self.rows], dtype="boolean"),
                "source": pd.Series([r[4] for r in self.rows], dtype=object),
            }
        )


def publish_plan(engine: Engine, bundle: Bundle, plan: YearPlan, *, actor: str = "rotaflow plan-year") -> int:
    """Store ``plan`` as the program's year plan (the one before it is ``superseded``); its number. The program
    must have been ingested (``InputError`` naming --program otherwise)."""
    if not plan.planned:
        raise ValueError("only a plan that was found can be published")
    rows = plan_rows(bundle, plan)
    with UnitOfWork(engine) as uow:
        s = uow.s
        program = ProgramRepository(s).get(bundle.program.key, for_update=True)
        if program is None:
            got = f"program {bundle.program.key} is not in the database"
            raise InputError([Problem("command line", None, "--program", "an ingested program (rotaflow ingest)", got)])
        plans = YearPlanRepository(s)
        number = plans.next_number(program.id)
        plans.supersede(program.id)
        stored = StoredPlan(
            program_id=program.id,
            number=number,
            program_version=program.current_version,
            status="published",
            solve_status=plan.result.status,
            objective=plan.result.objective,
            best_bound=plan.result.best_bound,
            actor=actor[:120],
            rows=[
                YearPlanRow(
                    person_id=r["person_id"],
                    block_id=r["block_id"],
                    rotation_id=r["rotation_id"],
                    locked=r["locked"] == "true",
                    source=r["source"],
                )
                for r in rows
            ],
        )
        s.add(stored)
        AuditRepository(s).record(
            actor=actor[:120],
            action="publish_year_plan",
            entity="year_plans",
            entity_key=str(number),
            program_id=program.id,
            version=program.current_version,
            details={"rows": len(rows), "status": plan.result.status, "objective": plan.result.objective},
        )
        uow.commit()
    return number


def published_plan(engine: Engine, program_key: str) -> PublishedPlan | None:
    """The program's current year plan, or None when none was published."""
    with UnitOfWork(engine) as uow:
        stored = YearPlanRepository(uow.s).current(program_key)
        if stored is None:
            return None
        rows = tuple((r.person_id, r.block_id, r.rotation_id, r.locked, r.source) for r in stored.rows)
        return PublishedPlan(stored.number, stored.program_version, rows)


def checked_plan(bundle: Bundle, plan: PublishedPlan) -> pd.DataFrame:
    """The published plan's rows as rotation_assignments.csv's frame, refused (``InputError`` naming the plan,
    its row and column) when a row no longer fits the bundle: a rotation rotations.csv no longer has, a block
    blocks.csv no longer has. Rows of people who are no longer residents are left out."""
    people = bundle.frames["people"]
    residents = set(people.loc[people["role"] == "resident", "person_id"].astype(str))
    rotations = set(bundle.frames["rotations"]["rotation_id"].astype(str))
    blocks = set(bundle.frames["blocks"]["block_id"].astype(str))
    where = f"year plan {plan.number}"
    problems = []
    for n, (person, block, rotation, _, _) in enumerate(plan.rows, start=1):
        if person not in residents:
            continue
        if rotation not in rotations:
            problems.append(
                Problem(where, n, "rotation_id", "a rotation of rotations.csv (plan the year again)", rotation)
            )
        elif block not in blocks:
            problems.append(Problem(where, n, "block_id", "a block of blocks.csv (plan the year again)", block))
    if problems:
        raise InputError(problems[:20])
    frame = plan.frame()
    return frame[frame["person_id"].isin(residents)].reset_index(drop=True)
