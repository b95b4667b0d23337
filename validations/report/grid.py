"""The report's schedule grid: one row per person (id, role, PGY, rotation), one column per day; each cell
shows the shifts worked, the day's rotation (a coloured band) and leave (blocking leave hatched, a
non-blocking absence outlined), with a legend. On screen it is one wide table whose cells explain
themselves when clicked (or reached with the arrow keys and opened with Enter); printed, it is one table
per week, each with the person columns repeated, on A4 landscape pages.

Only ids, roles, PGYs and rotation and shift names are shown: never a person's name or e-mail. Its
stylesheet (grid.css) and script (grid.js) are emitted inline with it, so the page stays self-contained.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pandas as pd

from rotaflow.validations.report.common import (
    ROTATION_PALETTE,
    SHIFT_PALETTE,
    ReportData,
    _fmt,
    _iso_dates,
    _missing,
    _sorted_ids,
    esc,
    rotation_colours,
    rotation_ids,
)

if TYPE_CHECKING:
    from rotaflow.validations.bundle import Bundle

GRID_CSS = (files(__package__) / "grid.css").read_text(encoding="utf-8")
GRID_JS = (files(__package__) / "grid.js").read_text(encoding="utf-8")

#: a leave day's label in its cell (absences.csv's ``type``; a ``leave`` rotation shows ``leave``)
LEAVE_LABELS = {
    "vacation": "vac",
    "sick": "sick",
    "conference": "conf",
    "parental": "parent",
    "bereavement": "bereav",
    "medical": "med",
    "deployment": "deploy",
    "other": "leave",
    "leave": "leave",
}
#: the widest period drawn day by day
MAX_DAYS = 800
WEEK = 7


@dataclass
class _Leave:
    kind: str  # absences.csv's type, or "leave" for a leave rotation
    blocking: bool


@dataclass
class _Rows:
    """What the grid knows of each person and day."""

    dates: list[str]
    people: list[str]
    info: dict[str, tuple[str, str]] = field(default_factory=dict)  # role, PGY
    shifts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    rotation: dict[tuple[str, str], str] = field(default_factory=dict)
    leave: dict[tuple[str, str], _Leave] = field(default_factory=dict)
    rotation_names: dict[str, str] = field(default_factory=dict)
    block_of: dict[str, str] = field(default_factory=dict)  # date -> block id


def grid_frames(bundle: Bundle) -> dict[str, pd.DataFrame]:
    """``ReportData``'s people, rotations and absences from a bundle: every person's role and PGY, each
    resident's rotation per block (rotation_assignments.csv completed by the published year plan) with the
    block's dates and the rotation's name and setting, and absences.csv. No personal column is kept."""
    people = bundle.frames["people"][["person_id", "role", "pgy"]]
    blocks = bundle.frames["blocks"][["block_id", "start_date", "end_date"]]
    rotations = bundle.frames["rotations"][["rotation_id", "name", "setting"]].rename(columns={"name": "rotation_name"})
    spans = bundle.rotation_assignments()[["person_id", "block_id", "rotation_id"]]
    spans = spans.merge(blocks, on="block_id", how="inner").merge(rotations, on="rotation_id", how="left")
    absences = bundle.frames.get("absences")
    columns = ["person_id", "start_date", "end_date", "type", "blocking"]
    if absences is None:
        absences = pd.DataFrame(columns=columns)
    return {"people": people, "rotations": spans, "absences": absences.reindex(columns=columns)}


def _num_date(value: Any) -> dt.date | None:
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _weekday(iso: str) -> str:
    try:
        return dt.date.fromisoformat(iso).strftime("%a")[:2]
    except ValueError:
        return ""


def _days(first: dt.date | None, last: dt.date | None) -> list[str]:
    """Every day from ``first`` to ``last`` (ISO strings); none when either is unknown or the span is unreasonable."""
    if first is None or last is None or last < first or (last - first).days > MAX_DAYS:
        return []
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _spans(frame: pd.DataFrame | None, needed: set[str]) -> list[dict[str, Any]]:
    if frame is None or frame.empty or not needed <= set(frame.columns):
        return []
    return [row for row in frame.to_dict("records") if not _missing(row.get("person_id"))]


def _pgy_text(role: str, pgy: Any) -> str:
    if _missing(pgy) or str(pgy).strip() == "":
        return "—" if role == "faculty" else ""
    return _fmt(pgy)


def _rows(data: ReportData, frame: pd.DataFrame) -> _Rows:
    parsed = pd.to_datetime(frame["date"], errors="coerce").dropna()
    start = _num_date(data.summary.get("period_start")) or (parsed.min().date() if len(parsed) else None)
    end = _num_date(data.summary.get("period_end")) or (parsed.max().date() if len(parsed) else None)
    dates = _days(start, end) or sorted(frame["date"].unique())
    in_period = set(dates)

    known: list[Any] = list(frame["person_id"])
    for person_frame in (data.weekly_hours, data.burnout):
        if person_frame is not None and "person_id" in person_frame:
            known += list(person_frame["person_id"])
    info: dict[str, tuple[str, str]] = {}
    people_frame = data.people
    if people_frame is not None and "person_id" in people_frame:
        known += list(people_frame["person_id"])
        for row in people_frame.to_dict("records"):
            role = _fmt(row.get("role"))
            info[str(row["person_id"])] = (role, _pgy_text(role, row.get("pgy")))
    if "role" in data.assignments or "pgy" in data.assignments:
        for row in data.assignments.to_dict("records"):
            role = _fmt(row.get("role"))
            info.setdefault(str(row["person_id"]), (role, _pgy_text(role, row.get("pgy"))))
    ids = _sorted_ids(known)
    residents = [p for p in ids if info.get(p, ("",))[0] != "faculty"]
    rows = _Rows(dates, residents + [p for p in ids if p not in residents], info)

    for person, date, shift in zip(frame["person_id"], frame["date"], frame["shift_id"], strict=True):
        rows.shifts.setdefault((person, date), []).append(shift)

    for span in _spans(data.rotations, {"person_id", "start_date", "end_date", "rotation_id"}):
        rotation = _fmt(span["rotation_id"])
        if not _missing(span.get("rotation_name")):
            rows.rotation_names.setdefault(rotation, _fmt(span["rotation_name"]))
        leave_rotation = str(span.get("setting", "")) == "leave"
        for day in _days(_num_date(span["start_date"]), _num_date(span["end_date"])):
            if day not in in_period:
                continue
            key = (str(span["person_id"]), day)
            rows.rotation[key] = rotation
            if leave_rotation:
                rows.leave.setdefault(key, _Leave("leave", True))
            if not _missing(span.get("block_id")):
                rows.block_of.setdefault(day, _fmt(span["block_id"]))

    for span in _spans(data.absences, {"person_id", "start_date", "end_date"}):
        blocking = span.get("blocking")
        leave = _Leave(_fmt(span.get("type")) or "other", True if _missing(blocking) else bool(blocking))
        for day in _days(_num_date(span["start_date"]), _num_date(span["end_date"])):
            key = (str(span["person_id"]), day)
            if day in in_period and (key not in rows.leave or leave.blocking):  # a blocking one wins
                rows.leave[key] = leave
    return rows


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` can end it or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _explanations(explanations: Mapping[tuple[str, str, str], str] | None) -> dict[str, dict[str, dict[str, str]]]:
    """``(person, date, shift)`` -> text as ``{person: {date: {shift: text}}}`` (the empty shift: no shift)."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for key, text in (explanations or {}).items():
        if len(key) != 3 or _missing(text):
            continue
        person, day, shift = key
        iso = (_num_date(day) or day).isoformat() if not isinstance(day, str) else day
        nested.setdefault(str(person), {}).setdefault(str(iso), {})[_fmt(shift)] = str(text)
    return nested


def _runs(values: list[str]) -> list[tuple[int, str]]:
    """A person's rotation per day as runs: (index of the run's first day, rotation id or "")."""
    runs: list[tuple[int, str]] = []
    for i, value in enumerate(values):
        if not runs or runs[-1][1] != value:
            runs.append((i, value))
    return runs


def _schedule_section(data: ReportData, colours: Mapping[str, str] | None = None) -> str:
    """The grid's HTML; ``colours`` is the report's rotation -> colour map (``common.rotation_colours``, shared
    with the hours chart), built from ``data`` when not given."""
    assignments = data.assignments
    if assignments.empty or not {"person_id", "date", "shift_id"} <= set(assignments.columns):
        return '<p class="note">No assignments to show.</p>'
    frame = assignments[["person_id", "date", "shift_id"]].copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["date"] = _iso_dates(frame["date"])
    frame["shift_id"] = frame["shift_id"].astype(str)
    rows = _rows(data, frame)
    shifts = _sorted_ids(frame["shift_id"])
    shift_class = {s: f"s{i % len(SHIFT_PALETTE)}" for i, s in enumerate(shifts)}
    rotations = _sorted_ids(rows.rotation.values())
    palette = dict(colours) if colours is not None else rotation_colours(rotation_ids(data))
    for rotation in rotations:  # a rotation the map lacks (not expected): the next colour
        palette.setdefault(rotation, ROTATION_PALETTE[len(palette) % len(ROTATION_PALETTE)])
    rotation_class = {r: f"r{i}" for i, r in enumerate(palette) if r in rotations}
    bands = "".join(
        f".{rotation_class[r]}{{box-shadow:inset 0 -4px 0 {palette[r]};-webkit-print-color-adjust:exact;"
        "print-color-adjust:exact}"
        for r in rotations
    )
    with_info = bool(rows.info)
    with_rotation = bool(rotations)

    def cell(person: str, day: str) -> str:
        worked = rows.shifts.get((person, day))
        classes = []
        if worked:
            classes.append(shift_class[worked[0]])
        rotation = rows.rotation.get((person, day))
        if rotation:
            classes.append(rotation_class[rotation])
        leave = rows.leave.get((person, day))
        title = ""
        text = esc(" ".join(worked)) if worked else ""
        if leave is not None:
            classes.append("lv-b" if leave.blocking else "lv-o")
            what = f"{leave.kind} ({'blocking' if leave.blocking else 'non-blocking'})"
            title = f" title='{esc(what)}'"
            if not worked:
                text = f"<span class='lv'>{esc(LEAVE_LABELS.get(leave.kind, leave.kind))}</span>"
        css = f" class='{' '.join(classes)}'" if classes else ""
        return f"<td{css}{title}>{text}</td>"

    def rotation_of(person: str, days: list[str]) -> str:
        seen: list[str] = []
        for day in days:
            rotation = rows.rotation.get((person, day))
            if rotation and rotation not in seen:
                seen.append(rotation)
        return " → ".join(seen)

    def person_cells(person: str, days: list[str]) -> str:
        out = f"<th scope='row' class='who'>{esc(person)}</th>"
        if with_info:
            role, pgy = rows.info.get(person, ("", ""))
            out += f"<td class='role'>{esc(role)}</td><td class='pgy'>{esc(pgy)}</td>"
        if with_rotation:
            out += f"<td class='rot'>{esc(rotation_of(person, days))}</td>"
        return out

    person_head = "<th scope='col' class='who'>person</th>"
    if with_info:
        person_head += "<th scope='col'>role</th><th scope='col'>PGY</th>"
    if with_rotation:
        person_head += "<th scope='col'>rotation</th>"
    first_day = 1 + 2 * with_info + with_rotation

    cells = {(person, day): cell(person, day) for person in rows.people for day in rows.dates}
    head = person_head + "".join(
        f"<th scope='col' title='{esc(d)}'>{esc(d[5:])}<br><span class='dow'>{_weekday(d)}</span></th>"
        for d in rows.dates
    )
    body = "".join(
        f"<tr data-p='{esc(person)}'>{person_cells(person, rows.dates)}"
        + "".join(cells[(person, day)] for day in rows.dates)
        + "</tr>"
        for person in rows.people
    )
    week_start = f"7n+{first_day + 1}"  # the first day of each 7-day week (nth-child counts from 1)
    wide = (
        f"<style>#schedule-grid td:nth-child({week_start}),#schedule-grid th:nth-child({week_start})"
        "{border-left:2px solid #8c959f}</style>"
        '<div class="scroll grid-wrap grid-screen">'
        f'<table class="grid" id="schedule-grid" role="grid" data-first="{first_day}" '
        f'aria-describedby="grid-help"><caption>{len(rows.people)} people × {len(rows.dates)} days</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )

    weeks = []
    for w in range(0, len(rows.dates), WEEK):
        days = rows.dates[w : w + WEEK]
        week_head = person_head + "".join(f"<th scope='col'>{_weekday(d)} {esc(d[5:])}</th>" for d in days)
        week_body = "".join(
            f"<tr>{person_cells(person, days)}{''.join(cells[(person, day)] for day in days)}</tr>"
            for person in rows.people
        )
        weeks.append(
            f'<table class="grid grid-week"><caption>Week {w // WEEK + 1}: {esc(days[0])} – {esc(days[-1])}'
            f"</caption><thead><tr>{week_head}</tr></thead><tbody>{week_body}</tbody></table>"
        )
    printed = f'<div class="grid-print" aria-hidden="true">{"".join(weeks)}</div>'

    legend = "".join(f"<span class='chip {shift_class[s]}'>{esc(s)}</span>" for s in shifts)
    legends = [f"<span class='legend-part'>shifts: {legend}</span>"]
    if rotations:
        chips = "".join(
            f"<span class='chip rot-chip {rotation_class[r]}'>{esc(r)}"
            + (f" · {esc(rows.rotation_names[r])}" if r in rows.rotation_names else "")
            + "</span>"
            for r in rotations
        )
        legends.append(f"<span class='legend-part'>rotation (band at the foot of each day): {chips}</span>")
    legends.append(
        "<span class='legend-part'>leave: <span class='chip lv-b'>blocking leave (not schedulable)</span>"
        "<span class='chip lv-o'>non-blocking absence (schedulable, reported)</span></span>"
    )
    payload = {
        "dates": rows.dates,
        "blocks": [rows.block_of.get(d, _fmt(data.summary.get("block_id", ""))) for d in rows.dates],
        "rotations": {r: rows.rotation_names.get(r, "") for r in rotations},
        "runs": {p: _runs([rows.rotation.get((p, d), "") for d in rows.dates]) for p in rows.people},
        "explain": _explanations(data.explanations),
    }
    panel = (
        '<div id="cell-explain" class="explain" role="region" aria-live="polite" aria-labelledby="explain-title" '
        'hidden><div class="explain-head"><strong id="explain-title"></strong>'
        '<button type="button" class="explain-close" aria-label="close the explanation">×</button></div>'
        '<div id="explain-body"></div></div>'
    )
    return (
        f"<style>\n{GRID_CSS}{bands}</style>"
        f'<p class="legend">{"".join(legends)}</p>'
        '<p class="note" id="grid-help">Click a day (or move with the arrow keys and press Enter) to see why '
        "this person has, or does not have, that shift.</p>"
        + wide
        + printed
        + panel
        + f'<script type="application/json" id="grid-data">{_script_json(payload)}</script>'
        + f"<script>\n{GRID_JS}</script>"
    )
