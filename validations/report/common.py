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
