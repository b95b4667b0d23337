"""What every part of the report shares: ``ReportData``, the colours and ids, and the small helpers
that format, escape and sort the values of the data (and never read a personal-data column)."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rotaflow.validations import contracts
from rotaflow.validations.coverage import band_of

esc = html.escape

#: element ids of the figures, in page order (the browser test looks for them)
PLOT_IDS = {
    "coverage": "plot-coverage",
    "hours": "plot-hours",
    "hours_per_resident": "plot-hours-per-resident",
    "utilisation": "plot-utilisation",
    "contingency": "plot-contingency",
    "burnout": "plot-burnout",
}

#: utilisation bands (docs/acgme.md): upper bound of the band (exclusive for green/yellow/orange), colour
BAND_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("green", 0.70),
    ("yellow", 0.80),
    ("orange", 0.90),
    ("red", 0.95),
)
BAND_COLOURS = {
    "green": "#2e7d32",
    "yellow": "#f9c80e",
    "orange": "#ef6c00",
    "red": "#c62828",
    "black": "#111111",
}
BURNOUT_COLOURS = {
    "low": "#2e7d32",
    "moderate": "#f9c80e",
    "high": "#ef6c00",
    "very_high": "#c62828",
}
SEVERITY_ORDER = {"violation": 0, "warning": 1, "info": 2}
FINDING_COLUMNS = tuple(contracts.FINDING_COLUMNS)
FAILED_STATUSES = {"infeasible", "timeout", "invalid_input", "error", "failed"}
#: columns that may hold personal data: never rendered, whatever frame they come in
PERSONAL_COLUMNS = {"name", "display_name", "first_name", "last_name", "full_name", "email", "e_mail", "phone"}
#: summary keys shown first, in this order; the rest follow alphabetically
SUMMARY_ORDER = (
    "program",
    "block_id",
    "run_id",
    "status",
    "objective",
    "best_bound",
    "solve_seconds",
    "hard_violations",
    "warnings",
    "timezone",
    "period_start",
    "period_end",
)
CONTINGENCY_LAYERS = {"uncovered": "#c62828", "undecided": "#9e9e9e"}
COVERAGE_STATES = (  # z value, label, colour
    (0, "short of minimum", "#c62828"),
    (1, "below target", "#f9c80e"),
    (2, "met", "#2e7d32"),
    (3, "over maximum", "#6a1b9a"),
)
SHIFT_PALETTE = (
    "#e3f2fd",
    "#ede7f6",
    "#fff3e0",
    "#e8f5e9",
    "#fce4ec",
    "#e0f7fa",
    "#f9fbe7",
    "#efebe9",
    "#f3e5f5",
    "#e8eaf6",
)
#: rotation colours, one map per report (``rotation_colours``): the schedule grid's bands and the hours chart's bars
ROTATION_PALETTE = (
    "#1565c0",
    "#8e24aa",
    "#ef6c00",
    "#2e7d32",
    "#d81b60",
    "#00838f",
    "#9e9d24",
    "#6d4c41",
    "#3949ab",
    "#546e7a",
    "#f4511e",
    "#00897b",
)
#: the colour of "rotation not known"
UNKNOWN_ROTATION_COLOUR = "#bdbdbd"
#: the ACGME weekly limit when the program sets none
DEFAULT_WEEKLY_LIMIT = 80.0
#: how far a value may pass a limit before it counts as above it (floating-point noise only)
LIMIT_TOLERANCE = 1e-9
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}


@dataclass
class ReportData:
    """Everything the report shows; the optional frames each add one figure (omitted when None)."""

    summary: dict[str, Any]
    findings: pd.DataFrame
    assignments: pd.DataFrame
    coverage: pd.DataFrame | None = None
    weekly_hours: pd.DataFrame | None = None
    utilisation: pd.DataFrame | None = None
    contingency: pd.DataFrame | None = None
    burnout: pd.DataFrame | None = None
    rules: list[tuple[str, str]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    people: pd.DataFrame | None = None
    """person_id, role, pgy of everyone in the grid, also those without a shift (``grid.grid_frames``)."""
    rotations: pd.DataFrame | None = None
    """person_id, start_date, end_date, rotation_id (optional rotation_name, setting, block_id): who is on which
    rotation when; a ``leave`` setting's days show as leave."""
    absences: pd.DataFrame | None = None
    """person_id, start_date, end_date, type, blocking (absences.csv's columns)."""
    explanations: dict[tuple[str, str, str], str] | None = None
    """(person_id, ISO date, shift id or "") -> why this person has (or, "", has no) shift that day."""
    average_window_days: int | None = 28
    """The weekly-hours rule's rolling window (days) that each week's 4-week average closes; None when the
    averages are per fixed block from the period's first day (no window then reaches before the period)."""


# --------------------------------------------------------------------------- small helpers


def _missing(value: Any) -> bool:
    if value is None:
        return True
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _num(value: Any) -> float | None:
    """A finite float, or None for empty/NaN/unparsable values."""
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: Any, digits: int = 2) -> str:
    """A compact display string (not yet escaped)."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.{digits}f}".rstrip("0").rstrip(".")
    if isinstance(value, dt.datetime | pd.Timestamp):  # a date read as a timestamp shows as the date
        plain = value.tzinfo is None and value.time() == dt.time(0)
        return value.date().isoformat() if plain else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _text(value: Any) -> str:
    """A value as it is shown in HTML: formatted and escaped."""
    return esc(_fmt(value))


def _plot_text(value: str) -> str:
    """Text for a plotly label or hover: plotly reads ``<...>`` as markup and decodes ``&lt; &gt; &amp;``
    (not ``&quot;``), and sets SVG text content, so escaping ``& < >`` shows any id literally and safely."""
    return esc(value, quote=False)


def _iso_dates(values: pd.Series) -> pd.Series:
    """Dates (strings, dates or timestamps) as ``YYYY-MM-DD`` strings; unparsable values stay as text."""
    parsed = pd.to_datetime(values, errors="coerce")
    out = parsed.dt.strftime("%Y-%m-%d")
    return out.where(parsed.notna(), values.astype(str))


def _sorted_ids(values: Iterable[Any]) -> list[str]:
    """Ids in natural order (``R2`` before ``R10``)."""

    def key(text: str) -> tuple[Any, ...]:
        parts: list[Any] = []
        digits = ""
        letters = ""
        for char in text:
            if char.isdigit():
                if letters:
                    parts.append((1, letters, 0))
                    letters = ""
                digits += char
            else:
                if digits:
                    parts.append((0, "", int(digits)))
                    digits = ""
                letters += char
        if digits:
            parts.append((0, "", int(digits)))
        if letters:
            parts.append((1, letters, 0))
        return tuple(parts)

    return sorted({str(v) for v in values if not _missing(v)}, key=key)


def _safe_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).lower() not in PERSONAL_COLUMNS]


def utilisation_band(utilisation: float) -> str:
    """The docs/acgme.md band of a fraction: green < 0.70 <= yellow < 0.80 <= orange < 0.90 <= red <= 0.95 < black."""
    return band_of(utilisation)


def _hard_violations(data: ReportData) -> int:
    counted = int((data.findings["severity"] == "violation").sum()) if "severity" in data.findings else 0
    given = _num(data.summary.get("hard_violations"))
    return max(counted, int(given) if given is not None else 0)


def _warning_count(data: ReportData) -> int:
    counted = int((data.findings["severity"] == "warning").sum()) if "severity" in data.findings else 0
    given = _num(data.summary.get("warnings"))
    return max(counted, int(given) if given is not None else 0)


def passed(data: ReportData) -> bool:
    """Pass = the run produced a schedule (status not infeasible/timeout/invalid) with no hard violation."""
    status = str(data.summary.get("status", "")).lower()
    return status not in FAILED_STATUSES and _hard_violations(data) == 0


def _people_of(value: Any) -> tuple[str, ...]:
    """A contingency scenario's people: a tuple/list, or a ``;``-separated string as read from CSV."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(";") if p.strip())
    if isinstance(value, Iterable):
        return tuple(str(p) for p in value)
    return () if _missing(value) else (str(value),)


# --------------------------------------------------------------------------- shared definitions


def rotation_ids(data: ReportData) -> list[str]:
    """Every rotation id the report can show (the rotation spans and the assignments' ``rotation_id``)."""
    found: list[Any] = []
    for frame in (data.rotations, data.assignments):
        if frame is not None and "rotation_id" in frame:
            found += [v for v in frame["rotation_id"] if not _missing(v) and str(v) != ""]
    return _sorted_ids(found)


def rotation_colours(ids: Iterable[Any]) -> dict[str, str]:
    """One colour per rotation id, given out in natural id order (the palette repeats past its length): built
    once per report, so that a rotation has the same colour in the schedule grid and in the hours chart."""
    return {r: ROTATION_PALETTE[i % len(ROTATION_PALETTE)] for i, r in enumerate(_sorted_ids(ids))}


def week_limits(weekly: pd.DataFrame, program_limit: float = DEFAULT_WEEKLY_LIMIT) -> pd.Series:
    """The limit each row of the weekly-hours table (``AcgmeReport.weekly``) is held to: its own ``limit`` (the
    ACGME rule's limit for that resident and week: the program's weekly limit, lowered by leave in the week's
    4-week window) where it has one above 0, the program's weekly limit otherwise. The one definition the
    glance, the hours chart and the hours heat map use."""
    if "limit" in weekly:
        own = pd.to_numeric(weekly["limit"], errors="coerce").astype(float)
    else:
        own = pd.Series(np.nan, index=weekly.index, dtype=float)
    return own.where(own > 0, float(program_limit))


def above_limit(values: Any, limits: Any) -> pd.Series:
    """Whether each value is above its limit (unrounded; missing values are not)."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy()
    bounds = np.asarray(limits, dtype=float)
    with np.errstate(invalid="ignore"):
        return pd.Series(numbers > bounds + LIMIT_TOLERANCE, index=getattr(values, "index", None))


def partial_averages(weekly: pd.DataFrame, summary: Mapping[str, Any], window_days: int | None) -> pd.Series:
    """Rows of the weekly-hours table whose 4-week average is not complete: no history before the period was
    given (``history_given`` false) and the rolling window that closes with the week reaches before the
    period's first day, so the days before it are unknown (the table counts them as 0 h)."""
    given = summary.get("history_given")
    if given is None and isinstance(summary.get("validation"), Mapping):
        given = summary["validation"].get("history_given")
    if given is not False or window_days is None or weekly.empty or "week_start" not in weekly:
        return pd.Series(False, index=weekly.index)
    starts = pd.to_datetime(weekly["week_start"], errors="coerce")
    ends = pd.to_datetime(weekly["week_end"] if "week_end" in weekly else pd.Series(pd.NaT, index=weekly.index))
    ends = ends.fillna(starts + pd.Timedelta(days=6))
    first = pd.to_datetime(summary.get("period_start"), errors="coerce")
    if pd.isna(first):
        first = starts.min()
    return ((ends - pd.Timedelta(days=window_days - 1)) < first).fillna(False).astype(bool)
