"""The academic year so far, per resident (``rotaflow report year``): calls, nights, weekend shifts and hours
from the published blocks and history.csv, leave taken, and each against the cohort (their PGY) per FTE.

The year starts on the first day of blocks.csv's first block. A resident's shifts so far are the live
published assignments of the program before ``until`` (default: every published day) and the rows of
history.csv on days of the year no block has published (published rows win where both give a day). Leave is
every day of a blocking absence or of a leave rotation; the days available are the year's days so far less
leave, and a resident's rates are per 28 available days at full time (count × 28 / (days available × FTE)).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from rotaflow.constraints.instance import Instance, PriorLoad
from rotaflow.db.repositories import ScheduleRepository
from rotaflow.db.session import Engine, UnitOfWork
from rotaflow.files import write_private
from rotaflow.validations.bundle import Bundle
from rotaflow.validations.instances import shift_specs

__all__ = [
    "CATEGORIES",
    "ResidentYear",
    "YearReport",
    "year_csv",
    "year_report",
    "year_report_html",
    "write_year_report",
]

CATEGORIES = ("calls", "nights", "weekends", "holidays")
"""What is counted and balanced: in-house calls (shifts.csv's in_house_call), night shifts, shifts on Saturday or
Sunday, shifts on the public holidays of program.yaml."""
Row = tuple[str, dt.date, str]


@dataclass
class ResidentYear:
    """One resident's year so far."""

    person_id: str
    pgy: int
    fte: float
    shifts: int = 0
    hours: float = 0.0
    calls: int = 0
    nights: int = 0
    weekends: int = 0
    holidays: int = 0
    leave_days: int = 0
    days: int = 0
    """Days of the year so far."""
    weekly_hours: dict[int, float] = field(default_factory=dict)
    """Hours worked in each week of the year (week 1 starts on the year's first day)."""

    @property
    def available_days(self) -> int:
        return max(0, self.days - self.leave_days)

    def rate(self, category: str) -> float | None:
        """``category`` per 28 available days at full time; None when no day was available."""
        capacity = self.available_days * self.fte
        return None if capacity <= 0 else round(getattr(self, category) * 28 / capacity, 3)


@dataclass
class YearReport:
    program: str
    first: dt.date
    until: dt.date
    """The last day counted."""
    residents: list[ResidentYear]

    def spread(self, pgy: int, category: str) -> float | None:
        """Most − fewest of ``category`` per 28 available days at full time among the PGY's residents."""
        rates = [x for x in (r.rate(category) for r in self.residents if r.pgy == pgy) if x is not None]
        return round(max(rates) - min(rates), 3) if len(rates) > 1 else None

    def cohort_mean(self, pgy: int, category: str) -> float | None:
        rates = [r.rate(category) for r in self.residents if r.pgy == pgy]
        known = [x for x in rates if x is not None]
        return round(mean(known), 3) if known else None


def _published(engine: Engine, program_key: str, first: dt.date, until: dt.date) -> list[Row]:
    with UnitOfWork(engine) as uow:
        schedules = ScheduleRepository(uow.s)
        program = schedules.find_program(program_key)
        if program is None:
            return []
        return schedules.published_cells(program.id, first, until)


def year_report(engine: Engine, bundle: Bundle, *, until: dt.date | None = None) -> YearReport:
    """The year so far of every resident of the bundle (see the module's docstring)."""
    frames = bundle.frames
    blocks = frames["blocks"].sort_values("start_date")
    first = blocks["start_date"].iloc[0].date()
    last_day = blocks["end_date"].iloc[-1].date()
    published = _published(engine, bundle.program.key, first, until or last_day)
    end = until or max((d for _, d, _ in published), default=first - dt.timedelta(days=1))
    end = min(end, last_day)
    days_published = {d for _, d, _ in published}
    history = [
        (str(r.person_id), r.date.date(), str(r.shift_id))
        for r in frames["history"].itertuples()
        if first <= r.date.date() <= end and r.date.date() not in days_published
    ]
    # a shift's hours as the schedule counts them: elapsed local time (daylight saving included), transition,
    # home call's expected hours
    clock = Instance(
        name="year", start=first, days=1, people=(), shifts=shift_specs(bundle), timezone=bundle.program.timezone
    )
    people = frames["people"]
    residents = {
        str(r.person_id): ResidentYear(
            str(r.person_id), int(r.pgy), 1.0 if r.fte != r.fte or r.fte is None else float(r.fte)
        )
        for r in people.itertuples()
        if r.role == "resident" and r.pgy == r.pgy and r.pgy is not None
    }
    span = max(0, (end - first).days + 1)
    holidays = set(bundle.program.holidays)
    for each in residents.values():
        each.days = span
    for person, day, shift in sorted(set(published) | set(history)):
        found = residents.get(person)
        spec = clock.shift.get(shift)
        if found is None or spec is None or day > end:
            continue
        resident = found
        hours = clock.make_slot((day - first).days, shift).work_minutes / 60
        resident.shifts += 1
        resident.hours += hours
        resident.calls += spec.in_house_call  # as the fairness rule and the call-frequency rule count them
        resident.nights += spec.kind == "night"
        resident.weekends += day.weekday() >= 5
        resident.holidays += day in holidays
        week = (day - first).days // 7 + 1
        resident.weekly_hours[week] = round(resident.weekly_hours.get(week, 0.0) + hours, 2)
    for person, leave in _leave_days(bundle, first, end).items():
        if person in residents:
            residents[person].leave_days = len(leave)
    for each in residents.values():
        each.hours = round(each.hours, 2)
    return YearReport(bundle.program.key, first, end, sorted(residents.values(), key=lambda r: (r.pgy, r.person_id)))


def _leave_days(bundle: Bundle, first: dt.date, end: dt.date) -> dict[str, set[dt.date]]:
    frames = bundle.frames
    out: dict[str, set[dt.date]] = {}

    def add(person: str, start: dt.date, stop: dt.date) -> None:
        lo, hi = max(start, first), min(stop, end)
        for n in range((hi - lo).days + 1):
            out.setdefault(person, set()).add(lo + dt.timedelta(days=n))

    for r in frames["absences"].itertuples():
        blocking = True if r.blocking != r.blocking or r.blocking is None else bool(r.blocking)
        if blocking:
            add(str(r.person_id), r.start_date.date(), r.end_date.date())
    rotations = frames["rotations"]
    leave = set(rotations.loc[rotations["setting"] == "leave", "rotation_id"])
    blocks = frames["blocks"].set_index("block_id")
    assignments = bundle.rotation_assignments()
    for r in assignments.itertuples():
        if r.rotation_id in leave and r.block_id in blocks.index:
            add(str(r.person_id), blocks.at[r.block_id, "start_date"].date(), blocks.at[r.block_id, "end_date"].date())
    return out


# --------------------------------------------------------------------------- outputs

YEAR_COLUMNS = [
    "person_id",
    "pgy",
    "fte",
    "days",
    "leave_days",
    "available_days",
    "shifts",
    "hours",
    "avg_weekly_hours",
    *(f"{c}{suffix}" for c in CATEGORIES for suffix in ("", "_per_28", "_cohort_per_28")),
]


def report_rows(report: YearReport) -> list[dict[str, Any]]:
    """year.csv's rows (``YEAR_COLUMNS``)."""
    out = []
    for r in report.residents:
        weeks = max(1, -(-r.days // 7))
        row: dict[str, Any] = {
            "person_id": r.person_id,
            "pgy": r.pgy,
            "fte": r.fte,
            "days": r.days,
            "leave_days": r.leave_days,
            "available_days": r.available_days,
            "shifts": r.shifts,
            "hours": r.hours,
            "avg_weekly_hours": round(r.hours / weeks, 2) if r.days else 0.0,
        }
        for c in CATEGORIES:
            row[c] = getattr(r, c)
            row[f"{c}_per_28"] = r.rate(c)
            row[f"{c}_cohort_per_28"] = report.cohort_mean(r.pgy, c)
        out.append(row)
    return out


def year_csv(report: YearReport) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=YEAR_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report_rows(report):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:80rem;padding:1.5rem;
color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;margin:.2rem 0 .4rem}h2{font-size:1.1rem;margin-top:1.8rem;border-bottom:1px solid #d0d7de;
padding-bottom:.2rem}.facts{color:#59636e}
table{border-collapse:collapse;font-size:.8rem}td,th{border:1px solid #d0d7de;padding:.15rem .4rem;text-align:right}
th[scope=row],thead th{text-align:left;background:#f6f8fa}.above{background:#ffebe9}.below{background:#ddf4ff}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#59636e}
footer{margin-top:2rem;font-size:.8rem;color:#59636e}
"""


def _chart(report: YearReport, category: str) -> str:
    """An inline SVG: each resident's ``category`` per 28 available days (bar) against their cohort's mean (tick)."""
    rows = [(r, r.rate(category), report.cohort_mean(r.pgy, category)) for r in report.residents]
    top = max([x for _, x, _ in rows if x is not None] + [m for _, _, m in rows if m is not None] + [1.0])
    bar, gap, height = 14, 4, 160
    width = max(1, len(rows)) * (bar + gap) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img" '
        f'aria-label="{_esc(category)} per 28 available days, per resident, against the cohort mean">'
    ]
    for n, (r, value, cohort) in enumerate(rows):
        x = 30 + n * (bar + gap)
        if value is not None:
            h = value / top * height
            parts.append(
                f'<rect x="{x}" y="{height - h + 10:.1f}" width="{bar}" height="{h:.1f}" fill="#54aeff">'
                f"<title>{_esc(r.person_id)}: {value}</title></rect>"
            )
        if cohort is not None:
            y = height - cohort / top * height + 10
            parts.append(
                f'<line x1="{x - 1}" x2="{x + bar + 1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#cf222e" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{x + bar / 2}" y="{height + 24}" font-size="8" text-anchor="middle" '
            f'transform="rotate(60 {x + bar / 2} {height + 24})">{_esc(r.person_id)}</text>'
        )
    parts.append(
        f'<text x="2" y="14" font-size="9">{top:.1f}</text><text x="2" y="{height + 10}" font-size="9">0</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def year_report_html(report: YearReport) -> str:
    """One self-contained page: the table of every resident's year so far against the cohort, a chart per
    category, the hours of each week. People by person_id only; every text escaped."""
    rows = report_rows(report)
    head = "".join(f"<th>{_esc(c)}</th>" for c in YEAR_COLUMNS)
    body = []
    for row in rows:
        cells = []
        for c in YEAR_COLUMNS:
            value = row[c]
            css = ""
            if c.endswith("_per_28") and not c.endswith("_cohort_per_28") and value is not None:
                cohort = row[c.replace("_per_28", "_cohort_per_28")]
                if cohort is not None and value > cohort * 1.15 + 0.25:
                    css = "above"
                elif cohort is not None and value < cohort * 0.85 - 0.25:
                    css = "below"
            cells.append(f'<td class="{css}">{"" if value is None else _esc(value)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    charts = "".join(
        f"<figure>{_chart(report, c)}<figcaption>{_esc(c)} per 28 available days at full time (bars) and the "
        "mean of the resident's PGY (red ticks)</figcaption></figure>"
        for c in CATEGORIES
    )
    weeks = sorted({w for r in report.residents for w in r.weekly_hours})
    week_head = "".join(f"<th>{w}</th>" for w in weeks)
    week_rows = "".join(
        f'<tr><th scope="row">{_esc(r.person_id)}</th>'
        + "".join(f"<td>{r.weekly_hours.get(w, 0):g}</td>" for w in weeks)
        + "</tr>"
        for r in report.residents
    )
    title = f"The year so far: {report.program}"
    facts = f"from {report.first.isoformat()} to {report.until.isoformat()} · {len(report.residents)} residents"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_esc(title)}</h1><p class="facts">{_esc(facts)}</p></header><main>'
        "<section><h2>Per resident, against the cohort</h2><p>Rates are per 28 available days at full time: "
        "the count × 28 / (days of the year so far less leave × FTE). Red: well above the PGY's mean; blue: well "
        f"below.</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
        f"<section><h2>Charts</h2>{charts}</section>"
        "<section><h2>Hours per week</h2>"
        f"<table><thead><tr><th>resident</th>{week_head}</tr></thead><tbody>{week_rows}</tbody></table></section>"
        "</main><footer>generated by rotaflow report year; people are shown by person_id; this file is "
        "self-contained and works offline</footer></body></html>\n"
    )


def write_year_report(report: YearReport, folder: Path) -> list[Path]:
    """year.csv, year_report.json and year_report.html into ``folder`` (claimed already)."""
    summary = {
        "program": report.program,
        "first": report.first.isoformat(),
        "until": report.until.isoformat(),
        "residents": report_rows(report),
    }
    return [
        write_private(folder / "year.csv", year_csv(report)),
        write_private(folder / "year_report.json", json.dumps(summary, indent=2) + "\n"),
        write_private(folder / "year_report.html", year_report_html(report)),
    ]


def prior_loads(engine: Engine, bundle: Bundle, block_id: str) -> dict[str, PriorLoad]:
    """Each resident's year before ``block_id`` (its calls, nights, weekend shifts and days available), for the
    fairness rule's year scope; empty for the year's first block."""
    blocks = bundle.frames["blocks"].set_index("block_id")
    if block_id not in blocks.index:
        return {}
    start = blocks.at[block_id, "start_date"].date()
    first = bundle.frames["blocks"]["start_date"].min().date()
    if start <= first:
        return {}
    report = year_report(engine, bundle, until=start - dt.timedelta(days=1))
    return {
        r.person_id: PriorLoad(r.calls, r.nights, r.weekends, r.available_days, r.holidays) for r in report.residents
    }
