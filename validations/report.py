"""The self-contained validation report (``report.html``) a data steward reads after a run.

``render_report`` turns a run's summary, findings and schedule (plus the optional derived
frames: coverage, weekly hours, utilisation, contingency, burnout risk) into one HTML
document: a status header with a clear pass/fail badge and key numbers, five plotly figures,
the findings table, the schedule grid, the rule list and links. plotly.js is embedded inline
exactly once (with the first figure), so the file works offline; no element loads anything
from the network. Every value from the data is escaped, and only ids are shown: columns that
could carry personal data (names, e-mails, ...) are never read.

Large programs (300 residents x a year) stay usable: every figure is a heatmap or a handful of
bar traces, never one trace per resident.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from rotaflow.validations.coverage import band_of

__all__ = [
    "BAND_COLOURS",
    "BURNOUT_COLOURS",
    "PLOT_IDS",
    "ReportData",
    "passed",
    "render_report",
    "utilisation_band",
]

esc = html.escape

#: element ids of the figures, in page order (the browser test looks for them)
PLOT_IDS = {
    "coverage": "plot-coverage",
    "hours": "plot-hours",
    "utilisation": "plot-utilisation",
    "contingency": "plot-contingency",
    "burnout": "plot-burnout",
}

#: utilisation bands (ACGME.md): upper bound of the band (exclusive for green/yellow/orange), colour
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
FINDING_COLUMNS = ("rule", "severity", "person_id", "window_start", "window_end", "value", "limit", "unit", "message")
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
    """The ACGME.md band of a fraction: green < 0.70 <= yellow < 0.80 <= orange < 0.90 <= red <= 0.95 < black."""
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


# --------------------------------------------------------------------------- figures


class _Figures:
    """Renders plotly figures to HTML fragments, embedding plotly.js inline with the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def render(self, figure: Any, div_id: str, alt: str, caption: str, title: str) -> str:
        import plotly.io as pio

        height = int(figure.layout.height or 420)
        fragment = pio.to_html(
            figure,
            include_plotlyjs=self.count == 0,  # inline (never a CDN) for the first figure only
            full_html=False,
            div_id=div_id,
            config=PLOTLY_CONFIG,
            default_width="100%",
            default_height=f"{height}px",
            validate=True,
        )
        self.count += 1
        return (
            f'<figure class="plot" aria-labelledby="{div_id}-caption">'
            f'<div class="plot-frame" role="img" aria-label="{esc(alt)}" data-plot="{div_id}">{fragment}</div>'
            f'<noscript><p class="note">{esc(alt)} (the interactive figure needs JavaScript)</p></noscript>'
            f'<figcaption id="{div_id}-caption"><strong>{esc(title)}.</strong> {esc(caption)}</figcaption>'
            "</figure>"
        )


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "height": height,
        "margin": {"l": 110, "r": 30, "t": 40, "b": 70},
        "template": "plotly_white",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "hoverlabel": {"align": "left"},
    }
    base.update(extra)
    return base


def _coverage_state(row: Mapping[str, Any], assigned: float, low: float) -> int:
    """The colour of one requirement on one day (COVERAGE_STATES), from the same numbers as its label."""
    high, target = _num(row.get("max")), _num(row.get("target"))
    status = row.get("status")
    if not _missing(status):  # validate_coverage's own verdict on the row
        if str(status) == "over":
            return 3
        if str(status) == "short":
            return 0
    elif high is not None and assigned > high:
        return 3
    met = row.get("met")
    if assigned < low or (not _missing(met) and not bool(met)):
        return 0
    if target is not None and assigned < target:
        return 1
    return 2


def _coverage_figure(coverage: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    """One cell per coverage requirement and day (a shift with several requirements has a line for each)."""
    import plotly.graph_objects as go

    frame = coverage.copy()
    frame["date"] = _iso_dates(frame["date"])
    frame["shift_id"] = frame["shift_id"].astype(str)
    if "requirement" not in frame:
        frame["requirement"] = ""
    frame["requirement"] = [("" if _missing(r) else str(r)) for r in frame["requirement"]]
    dates = sorted(frame["date"].unique())
    kinds = frame.drop_duplicates(["shift_id", "requirement"])
    several = set(kinds["shift_id"][kinds["shift_id"].duplicated()])
    lines: list[tuple[str, str]] = []  # (shift, requirement) in shift order, requirements as they come
    for shift in _sorted_ids(frame["shift_id"]):
        lines += [(shift, r) for r in kinds.loc[kinds["shift_id"] == shift, "requirement"]]
    names = [f"{shift} · {req}" if shift in several and req else shift for shift, req in lines]
    cells: dict[tuple[str, str, str], tuple[int, list[str], str]] = {}
    for row in frame.to_dict("records"):
        assigned = _num(row.get("assigned")) or 0.0
        low = _num(row.get("min")) or 0.0
        high = _num(row.get("max"))
        target = _num(row.get("target"))
        state = _coverage_state(row, assigned, low)
        line = f"assigned {_fmt(assigned)} · min {_fmt(low)}"
        line += f" · max {_fmt(high)}" if high is not None else ""
        line += f" · target {_fmt(target)}" if target is not None else ""
        line += f" (coverage.csv row {_fmt(row['row'])})" if not _missing(row.get("row")) else ""
        label = f"{_fmt(assigned)}/{_fmt(low)}"
        key = (row["date"], row["shift_id"], row["requirement"])
        if key in cells:  # rows that cannot be told apart (no requirement given): both shown, worst state wins
            old_state, old_lines, old_label = cells[key]
            rank = {0: 0, 3: 1, 1: 2, 2: 3}
            state = state if rank[state] < rank[old_state] else old_state
            cells[key] = (state, [*old_lines, line], f"{old_label}+{label}")
        else:
            cells[key] = (state, [line], label)
    z: list[list[int | None]] = []
    hover: list[list[str]] = []
    labels: list[list[str]] = []
    for shift, req in lines:
        z.append([cells[(d, shift, req)][0] if (d, shift, req) in cells else None for d in dates])
        hover.append(["<br>".join(cells[(d, shift, req)][1]) if (d, shift, req) in cells else "" for d in dates])
        labels.append([cells[(d, shift, req)][2] if (d, shift, req) in cells else "" for d in dates])
    counts = {label: sum(1 for c in cells.values() if c[0] == value) for value, label, _ in COVERAGE_STATES}
    scale: list[list[Any]] = []
    for value, _, colour in COVERAGE_STATES:
        scale += [[value / 4, colour], [(value + 1) / 4, colour]]
    heatmap = go.Heatmap(
        x=dates,
        y=[_plot_text(n) for n in names],
        z=z,
        zmin=-0.5,
        zmax=3.5,
        colorscale=scale,
        customdata=hover,
        xgap=1,
        ygap=1,
        hovertemplate="%{x} · %{y}<br>%{customdata}<extra></extra>",
        colorbar={
            "title": {"text": "coverage"},
            "tickvals": [v for v, _, _ in COVERAGE_STATES],
            "ticktext": [label for _, label, _ in COVERAGE_STATES],
        },
    )
    if len(dates) * len(lines) <= 800:
        heatmap.update(text=labels, texttemplate="%{text}", textfont={"size": 9})
    figure = go.Figure(
        heatmap,
        layout=_layout(
            max(260, 90 + 34 * len(lines)),
            xaxis={"type": "category", "title": {"text": "date"}, "tickangle": -60},
            yaxis={"type": "category", "title": {"text": "shift · requirement"}, "autorange": "reversed"},
            margin={"l": min(320, 40 + 7 * max(len(n) for n in names)), "r": 30, "t": 40, "b": 70},
        ),
    )
    alt = (
        f"Coverage heatmap of {len(dates)} days by {len(lines)} shift requirements: "
        f"{counts['short of minimum']} cells short of the minimum, "
        f"{counts['below target']} below target, {counts['met']} met, {counts['over maximum']} over the maximum."
    )
    caption = (
        "Each cell is one coverage requirement on one day: a shift, and whom it counts when the shift has several "
        "requirements (a line each). The label is the people that requirement counts / its minimum, and the colour "
        "is the same requirement's verdict: red = short of the minimum, yellow = minimum met but below target, "
        "green = met, purple = over the maximum. Hover for the maximum, the target and the coverage.csv row."
    )
    return figures.render(figure, PLOT_IDS["coverage"], alt, caption, "Coverage by day and requirement"), counts


def _hours_figure(weekly: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = weekly.copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["week_start"] = _iso_dates(frame["week_start"])
    people = _sorted_ids(frame["person_id"])
    weeks = sorted(frame["week_start"].unique())
    index = {(r["person_id"], r["week_start"]): r for r in frame.to_dict("records")}
    top = 1.25  # the colour scale ends at 125 % of the limit
    week_z: list[list[float | None]] = []
    avg_z: list[list[float | None]] = []
    custom: list[list[list[float | None]]] = []
    over_week: list[tuple[str, str]] = []
    over_avg: list[tuple[str, str]] = []
    for person in people:
        week_row: list[float | None] = []
        avg_row: list[float | None] = []
        custom_row: list[list[float | None]] = []
        for week in weeks:
            row = index.get((person, week))
            hours = _num(row.get("hours")) if row else None
            average = _num(row.get("average_4w")) if row else None
            limit = (_num(row.get("limit")) if row else None) or 80.0
            week_row.append(None if hours is None else round(min(hours / limit, top), 3))
            avg_row.append(None if average is None else round(min(average / limit, top), 3))
            custom_row.append([hours, average, limit])
            if hours is not None and hours > limit:
                over_week.append((_plot_text(person), week))
            if average is not None and average > limit + 1e-9:
                over_avg.append((_plot_text(person), week))
        week_z.append(week_row)
        avg_z.append(avg_row)
        custom.append(custom_row)
    b = 1 / top  # where the limit sits on the 0..1 colour scale
    scale = [[0, "#f7fbff"], [0.5 * b, "#c6dbef"], [0.999 * b, "#2171b5"], [b, "#fdae61"], [1, "#a50026"]]
    names = [_plot_text(p) for p in people]
    colorbar = {
        "title": {"text": "of limit"},
        "tickvals": [0, 0.5, 0.75, 1, 1.25],
        "ticktext": ["0 %", "50 %", "75 %", "100 % = limit", "≥ 125 %"],
    }
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        subplot_titles=("Each week's own total", "4-week average (the ACGME rule)"),
    )
    template = "%{y} · week of %{x}<br>week total %{customdata[0]:.1f} h<br>4-week average %{customdata[1]:.1f} h"
    template += "<br>limit %{customdata[2]:.1f} h<extra></extra>"
    for col, z in ((1, week_z), (2, avg_z)):
        fig.add_trace(
            go.Heatmap(
                x=weeks,
                y=names,
                z=z,
                zmin=0,
                zmax=top,
                colorscale=scale,
                customdata=custom,
                hovertemplate=template,
                colorbar=colorbar,
                showscale=col == 2,
                xgap=1 if len(weeks) < 60 else 0,
                ygap=1 if len(people) < 60 else 0,
            ),
            row=1,
            col=col,
        )
        marks = over_week if col == 1 else over_avg
        if marks:  # the limit highlighted: a cross on every cell above it
            fig.add_trace(
                go.Scatter(
                    x=[m[1] for m in marks],
                    y=[m[0] for m in marks],
                    mode="markers",
                    marker={"symbol": "x-thin", "size": 7, "line": {"width": 2, "color": "#000"}},
                    name="above the limit",
                    showlegend=col == 1,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
    # fixed ranges: the cross markers must not pad the axes away from the heatmap cells
    fig.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=weeks,
        range=[-0.5, len(weeks) - 0.5],
        tickangle=-60,
        title_text="week starting",
    )
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, range=[len(people) - 0.5, -0.5])
    fig.update_yaxes(title_text="resident", row=1, col=1)
    fig.update_layout(_layout(max(320, min(1800, 150 + 16 * len(people))), showlegend=False))
    counts = {"weeks_over": len(over_week), "averages_over": len(over_avg)}
    alt = (
        f"Heatmaps of weekly work hours for {len(people)} residents over {len(weeks)} weeks, as a share of each "
        f"resident's limit: {counts['weeks_over']} resident-weeks whose own total exceeds the limit, "
        f"{counts['averages_over']} whose 4-week average exceeds it."
    )
    caption = (
        "Left: the hours worked in each week; right: the 4-week average the ACGME 80-hour rule is held against. "
        "Blue shades stay under the limit, orange to dark red are above it; crosses mark cells above the limit. "
        "The limit is per resident (leave can lower it); hover for hours."
    )
    return figures.render(fig, PLOT_IDS["hours"], alt, caption, "Work hours per resident and week"), counts


def _utilisation_figure(utilisation: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    import plotly.graph_objects as go

    frame = utilisation.copy()
    frame["date"] = _iso_dates(frame["date"])
    frame = frame.sort_values("date")
    values = [_num(v) for v in frame["utilisation"]]
    given = frame["band"] if "band" in frame else pd.Series([None] * len(frame), index=frame.index)
    bands = [
        str(b).lower() if not _missing(b) and str(b).lower() in BAND_COLOURS else utilisation_band(v or 0.0)
        for b, v in zip(given, values, strict=True)
    ]
    frame = frame.assign(_value=values, _band=bands)
    figure = go.Figure()
    counts: dict[str, int] = {}
    for band, colour in BAND_COLOURS.items():
        part = frame[frame["_band"] == band]
        counts[band] = len(part)
        if part.empty:
            continue
        figure.add_trace(
            go.Bar(
                x=list(part["date"]),
                y=[None if v is None else round(100 * v, 2) for v in part["_value"]],
                name=band,
                marker={"color": colour, "line": {"width": 0}},
                customdata=[
                    [_num(r), _num(a)]
                    for r, a in zip(
                        part.get("required_hours", [None] * len(part)),
                        part.get("available_hours", [None] * len(part)),
                        strict=True,
                    )
                ],
                hovertemplate=(
                    "%{x}<br>utilisation %{y:.1f} %<br>required %{customdata[0]:.1f} h of "
                    f"%{{customdata[1]:.1f}} h available<br>band {band}<extra></extra>"
                ),
            )
        )
    shapes = []
    annotations = []
    for _band, upper in BAND_THRESHOLDS:
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": 100 * upper,
                "y1": 100 * upper,
                "line": {"dash": "dash", "width": 1, "color": "#555"},
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1,
                "xanchor": "left",
                "yref": "y",
                "y": 100 * upper,
                "text": f"{round(100 * upper)} %",
                "showarrow": False,
                "font": {"size": 10},
            }
        )
    peak = max((v for v in values if v is not None), default=0.0)
    figure.update_layout(
        _layout(
            380,
            barmode="overlay",
            bargap=0.1,
            shapes=shapes,
            annotations=annotations,
            xaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": list(frame["date"]),
                "title": {"text": "date"},
                "tickangle": -60,
            },
            yaxis={"title": {"text": "utilisation (% of available capacity)"}, "range": [0, max(105, 100 * peak + 5)]},
            legend={"title": {"text": "band"}},
            margin={"l": 85, "r": 50, "t": 30, "b": 80},
        )
    )
    alt = (
        f"Bar chart of daily utilisation over {len(frame)} days, peak {100 * peak:.0f} %: "
        + ", ".join(f"{counts[b]} {b}" for b in BAND_COLOURS)
        + " days."
    )
    caption = (
        "Required hours as a share of available capacity, one bar per day, coloured by band: green < 70 %, "
        "yellow 70–80 %, orange 80–90 %, red 90–95 %, black > 95 %. Dashed lines mark the band thresholds."
    )
    counts["peak_percent"] = round(100 * peak)
    return figures.render(figure, PLOT_IDS["utilisation"], alt, caption, "Utilisation over time"), counts


def _contingency_figure(contingency: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    import plotly.graph_objects as go

    scenarios: dict[tuple[str, str], dict[str, Any]] = {}
    for row in contingency.to_dict("records"):
        people = _people_of(row.get("people"))
        if not people:
            continue
        a, b = (people[0], people[0]) if len(people) == 1 else (people[0], people[1])
        scenarios[tuple(sorted((a, b)))] = row  # type: ignore[index]
    persons = _sorted_ids(p for pair in scenarios for p in pair)
    position = {p: i for i, p in enumerate(persons)}
    size = len(persons)
    # lower triangle only (row >= column), as ragged rows: half the cells, and no trailing blanks
    repair_z: list[list[float | None]] = [[None] * (i + 1) for i in range(size)]
    repair_text: list[list[Any]] = [[None] * (i + 1) for i in range(size)]
    # red layer: uncovered; grey layer: undecided (``unknown``: the solver's limit ran out)
    layers: dict[str, tuple[list[list[Any]], list[list[Any]]]] = {
        name: ([[None] * (i + 1) for i in range(size)], [[None] * (i + 1) for i in range(size)])
        for name in CONTINGENCY_LAYERS
    }
    counts = {"n1_uncovered": 0, "n2_uncovered": 0, "n1": 0, "n2": 0, "undecided": 0}
    biggest = 0.0
    for (a, b), row in scenarios.items():
        i, j = sorted((position[a], position[b]), reverse=True)
        single = a == b
        counts["n1" if single else "n2"] += 1
        outcome = _fmt(row.get("outcome")).lower()
        if outcome == "covered":
            repair = _num(row.get("repair_size"))
            repair_z[i][j] = repair or 0.0
            repair_text[i][j] = "unknown" if repair is None else _fmt(repair)
            biggest = max(biggest, repair or 0.0)
            continue
        if outcome == "uncovered":
            counts["n1_uncovered" if single else "n2_uncovered"] += 1
            where = " ".join(_fmt(row.get(k)) for k in ("first_uncovered_date", "first_uncovered_shift")).strip()
            text = "UNCOVERED " + (f"from {_plot_text(where)}" if where else "from an unknown day")
            layer = "uncovered"
        else:
            counts["undecided"] += 1
            text = f"not decided (outcome {_plot_text(outcome) or 'missing'})"
            layer = "undecided"
        if not _missing(row.get("settled_by")):
            text += f"<br>settled by {_plot_text(_fmt(row.get('settled_by')))}"
        layers[layer][0][i][j] = 1
        layers[layer][1][i][j] = text
    names = [_plot_text(p) for p in persons]
    gap = 1 if size < 60 else 0
    figure = go.Figure(
        layout=_layout(
            max(360, min(1400, 160 + 18 * size)),
            xaxis={"type": "category", "title": {"text": "second person lost"}, "tickangle": -60},
            yaxis={"type": "category", "title": {"text": "person lost"}, "autorange": "reversed"},
        )
    )
    figure.add_trace(
        go.Heatmap(
            x=names,
            y=names,
            z=repair_z,
            zmin=0,
            zmax=max(biggest, 1.0),
            colorscale=[[0, "#e8f5e9"], [1, "#1b5e20"]],
            customdata=repair_text,
            hovertemplate="without %{y} and %{x}<br>covered; the repair changes %{customdata} assignments"
            + "<extra></extra>",
            colorbar={"title": {"text": "covered:<br>repair size"}},
            xgap=gap,
            ygap=gap,
            name="covered",
            hoverongaps=False,
        )
    )
    for name, colour in CONTINGENCY_LAYERS.items():
        z, labels = layers[name]
        if not any(v is not None for row in z for v in row):
            continue
        for i in range(size):  # trim trailing blanks
            while z[i] and z[i][-1] is None:
                z[i].pop()
                labels[i].pop()
        figure.add_trace(
            go.Heatmap(
                x=names,
                y=names,
                z=z,
                zmin=0,
                zmax=1,
                colorscale=[[0, colour], [1, colour]],
                showscale=False,
                text=labels,
                hovertemplate="without %{y} and %{x}<br>%{text}<extra></extra>",
                xgap=gap,
                ygap=gap,
                name=name,
                hoverongaps=False,
            )
        )
    n2 = (
        f"{counts['n2']} two-person (N-2) scenarios below it, {counts['n2_uncovered']} uncovered"
        if counts["n2"]
        else "N-2 (losing any two people) was not run for this report"
    )
    alt = (
        f"Contingency matrix of {size} people: {counts['n1']} single-loss (N-1) scenarios on the diagonal, "
        f"{counts['n1_uncovered']} uncovered; {n2}"
        + (f"; {counts['undecided']} not decided." if counts["undecided"] else ".")
    )
    caption = (
        "Diagonal: the block without that one person (N-1); below the diagonal: without both people (N-2). "
        "Red = the must-rules cannot be met any more; green = still coverable, darker when the repair changes "
        "more assignments; grey = not decided within the time limit. Blank cells were not tested."
        + ("" if counts["n2"] else " N-2 (losing any two people) was not run for this report: only the diagonal.")
    )
    return figures.render(figure, PLOT_IDS["contingency"], alt, caption, "N-1 / N-2 contingency"), counts


def _burnout_figure(burnout: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    import plotly.graph_objects as go

    frame = burnout[_safe_columns(burnout)].copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["_score"] = [_num(v) or 0.0 for v in frame["score"]]
    frame = frame.sort_values(["_score", "person_id"], ascending=[False, True])
    order = [_plot_text(p) for p in frame["person_id"]]
    components = [
        c
        for c in frame.columns
        if c not in {"person_id", "score", "band", "_score"} and pd.api.types.is_numeric_dtype(frame[c])
    ]
    figure = go.Figure()
    counts: dict[str, int] = {}
    for band, colour in BURNOUT_COLOURS.items():
        part = frame[frame["band"].astype(str).str.lower() == band] if "band" in frame else frame.iloc[0:0]
        counts[band] = len(part)
        if part.empty:
            continue
        details = [
            "<br>".join(f"{_plot_text(str(c))}: {_plot_text(_fmt(row[c]))}" for c in components)
            for row in part.to_dict("records")
        ]
        figure.add_trace(
            go.Bar(
                x=[_plot_text(p) for p in part["person_id"]],
                y=list(part["_score"]),
                name=band.replace("_", " "),
                marker={"color": colour, "line": {"width": 0}},
                customdata=details,
                hovertemplate=f"%{{x}}<br>score %{{y:.0f}} ({band.replace('_', ' ')})<br>%{{customdata}}"
                + "<extra></extra>",
            )
        )
    figure.update_layout(
        _layout(
            380,
            barmode="overlay",
            xaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": order,
                "title": {"text": "resident"},
                "tickangle": -60,
            },
            yaxis={"title": {"text": "risk score (0–100)"}, "range": [0, 100]},
            legend={"title": {"text": "band"}},
            title={"text": "advisory — not a validated clinical instrument", "font": {"size": 12}, "x": 0.01},
        )
    )
    alt = (
        f"Bar chart of burnout-risk scores for {len(frame)} residents (advisory, not a validated clinical "
        "instrument): " + ", ".join(f"{counts[b]} {b.replace('_', ' ')}" for b in BURNOUT_COLOURS) + "."
    )
    caption = (
        "Advisory — not a validated clinical instrument. A heuristic score from the schedule alone (hours, nights, "
        "short rests, days off), sorted from highest; use it to start a conversation, never to judge a person."
    )
    return figures.render(figure, PLOT_IDS["burnout"], alt, caption, "Burnout risk (advisory)"), counts


# --------------------------------------------------------------------------- tables and sections


def _header(data: ReportData, facts: list[tuple[str, str]]) -> str:
    summary = data.summary
    ok = passed(data)
    violations = _hard_violations(data)
    warnings = _warning_count(data)
    status = _fmt(summary.get("status", "unknown"))
    if ok:
        badge = '<span class="badge badge-pass" role="status">PASS</span>'
        verdict = f"no hard violations, {warnings} warning{'s' if warnings != 1 else ''} (status {status})"
    else:
        badge = '<span class="badge badge-fail" role="status">FAIL</span>'
        verdict = f"{violations} hard violation{'s' if violations != 1 else ''}, status {status}"
    cards = "".join(
        f'<div class="card"><div class="card-value">{esc(value)}</div><div class="card-label">{esc(label)}</div></div>'
        for label, value in facts
    )
    program = _text(summary.get("program", ""))
    block = _text(summary.get("block_id", ""))
    return (
        '<header class="top">'
        f"<h1>Validation report — {program}{(' · block ' + block) if block else ''}</h1>"
        f'<div class="verdict">{badge}<span class="verdict-text">{esc(verdict)}</span></div>'
        f'<section aria-label="key numbers" class="cards">{cards}</section>'
        "</header>"
    )


def _facts(data: ReportData) -> list[tuple[str, str]]:
    """The key numbers shown as cards (label, value)."""
    summary = data.summary
    facts: list[tuple[str, str]] = [
        ("status", _fmt(summary.get("status", "unknown"))),
        ("hard violations", str(_hard_violations(data))),
        ("warnings", str(_warning_count(data))),
    ]
    assignments = data.assignments
    if "person_id" in assignments and "role" in assignments:  # faculty are not residents
        residents = assignments.loc[assignments["role"].astype(str) == "resident", "person_id"]
        facts.append(("residents scheduled", str(residents.nunique())))
    elif "person_id" in assignments:  # roles unknown: say what is counted
        facts.append(("people scheduled", str(assignments["person_id"].nunique())))
    facts.append(("assignments", str(len(assignments))))
    if "hours" in assignments:
        facts.append(("hours scheduled", _fmt(round(float(pd.to_numeric(assignments["hours"]).sum()), 1))))
    objective, bound = _num(summary.get("objective")), _num(summary.get("best_bound"))
    if objective is not None:
        facts.append(("objective", _fmt(objective)))
    if objective is not None and bound is not None:
        gap = abs(objective - bound) / max(abs(objective), 1e-9) if objective else 0.0
        facts.append(("optimality gap", f"{100 * gap:.1f} %"))
    seconds = _num(summary.get("solve_seconds"))
    if seconds is not None:
        facts.append(("solve time", f"{seconds:.1f} s"))
    return facts


def _summary_value(value: Any) -> str:
    """A scalar as text; a list or mapping folded away as indented JSON."""
    if isinstance(value, Mapping | list | tuple) and value:
        text = json.dumps(value, default=_fmt, ensure_ascii=False, indent=2)
        return f"<details><summary>{len(value)} entries</summary><pre>{esc(text)}</pre></details>"
    return _text(value)


def _summary_table(summary: Mapping[str, Any]) -> str:
    keys = [k for k in SUMMARY_ORDER if k in summary]
    keys += sorted(k for k in summary if k not in SUMMARY_ORDER and k not in {"diagnosis", "rules"})
    keys = [k for k in keys if str(k).lower() not in PERSONAL_COLUMNS]
    rows = "".join(f"<tr><th scope='row'>{esc(str(k))}</th><td>{_summary_value(summary[k])}</td></tr>" for k in keys)
    out = f'<table class="facts"><caption>summary.json</caption><tbody>{rows}</tbody></table>'
    diagnosis = summary.get("diagnosis")
    if diagnosis:
        items = diagnosis if isinstance(diagnosis, list | tuple) else [diagnosis]
        lis = "".join(f"<li>{_text(item)}</li>" for item in items)
        out += f'<div class="diagnosis"><h3>Why no schedule exists (diagnosis)</h3><ul>{lis}</ul></div>'
    return out


def _findings_section(findings: pd.DataFrame) -> str:
    if findings.empty:
        return '<p class="note">No findings: every rule holds.</p>'
    frame = findings.copy()
    columns = [c for c in FINDING_COLUMNS if c in frame.columns]
    frame["_order"] = frame["severity"].map(SEVERITY_ORDER).fillna(9) if "severity" in frame else 9
    sort_by = ["_order"] + [c for c in ("rule", "person_id", "window_start") if c in frame.columns]
    frame = frame.sort_values(sort_by, kind="stable", key=lambda s: s.astype(str) if s.name != "_order" else s)
    counts = ""
    if {"rule", "severity"} <= set(frame.columns):
        table = frame.groupby(["rule", "severity"]).size().unstack(fill_value=0)
        severities = [s for s in SEVERITY_ORDER if s in table.columns]
        head = "".join(f"<th scope='col'>{esc(s)}</th>" for s in severities)
        body = "".join(
            f"<tr><th scope='row'><code>{esc(str(rule))}</code></th>"
            + "".join(f"<td class='num'>{int(table.loc[rule, s])}</td>" for s in severities)
            + "</tr>"
            for rule in table.index
        )
        counts = (
            f'<table class="counts"><caption>findings per rule</caption><thead><tr><th scope="col">rule</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    head = "".join(
        f'<th scope="col"><button type="button" class="sort" data-col="{i}">{esc(c)}</button></th>'
        for i, c in enumerate(columns)
    )
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            if column == "severity":
                severity = str(value).lower()
                css = severity if severity in SEVERITY_ORDER else "other"
                badge = f'<span class="sev sev-{css}">{_text(value)}</span>'
                cells.append(f'<td data-v="{SEVERITY_ORDER.get(severity, 9)}">{badge}</td>')
            elif column in ("value", "limit"):
                number = _num(value)
                cells.append(f'<td class="num" data-v="{"" if number is None else number}">{_text(value)}</td>')
            else:
                cells.append(f"<td>{_text(value)}</td>")
        severity = str(record.get("severity", "")).lower()
        rows.append(f'<tr class="row-{severity if severity in SEVERITY_ORDER else "other"}">{"".join(cells)}</tr>')
    return (
        counts
        + f'<div class="scroll"><table class="findings sortable" id="findings-table"><caption>{len(frame)} findings '
        "(click a column heading to sort)</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _schedule_section(data: ReportData) -> str:
    assignments = data.assignments
    if assignments.empty or not {"person_id", "date", "shift_id"} <= set(assignments.columns):
        return '<p class="note">No assignments to show.</p>'
    frame = assignments[["person_id", "date", "shift_id"]].copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["date"] = _iso_dates(frame["date"])
    frame["shift_id"] = frame["shift_id"].astype(str)
    parsed = pd.to_datetime(frame["date"], errors="coerce").dropna()
    start = _num_date(data.summary.get("period_start")) or (parsed.min().date() if len(parsed) else None)
    end = _num_date(data.summary.get("period_end")) or (parsed.max().date() if len(parsed) else None)
    if start is not None and end is not None and end >= start and (end - start).days <= 800:
        dates = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    else:
        dates = sorted(frame["date"].unique())
    extra = [
        person_frame["person_id"]
        for person_frame in (data.weekly_hours, data.burnout)
        if person_frame is not None and "person_id" in person_frame
    ]
    people = _sorted_ids([*frame["person_id"], *(p for series in extra for p in series)])
    info: dict[str, tuple[str, str]] = {}
    if "role" in assignments or "pgy" in assignments:
        for row in assignments.to_dict("records"):
            info.setdefault(str(row["person_id"]), (_fmt(row.get("role")), _fmt(row.get("pgy"))))
    grid: dict[tuple[str, str], list[str]] = {}
    for person, date, shift in zip(frame["person_id"], frame["date"], frame["shift_id"], strict=True):
        grid.setdefault((person, date), []).append(shift)
    shifts = _sorted_ids(frame["shift_id"])
    shift_class = {s: f"s{i % len(SHIFT_PALETTE)}" for i, s in enumerate(shifts)}
    with_info = bool(info)
    head = "<th scope='col' class='who'>person</th>" + (
        "<th scope='col'>role</th><th scope='col'>PGY</th>" if with_info else ""
    )
    head += "".join(
        f"<th scope='col' title='{esc(d)}'>{esc(d[5:])}<br><span class='dow'>{_weekday(d)}</span></th>" for d in dates
    )
    body = []
    for person in people:
        cells = [f"<th scope='row' class='who'>{esc(person)}</th>"]
        if with_info:
            role, pgy = info.get(person, ("", ""))
            cells.append(f"<td>{esc(role)}</td><td>{esc(pgy)}</td>")
        for date in dates:
            worked = grid.get((person, date))
            if worked:
                css = shift_class[worked[0]]
                cells.append(f"<td class='{css}'>{esc(' '.join(worked))}</td>")
            else:
                cells.append("<td></td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    legend = "".join(f"<span class='chip {shift_class[s]}'>{esc(s)}</span>" for s in shifts)
    return (
        f'<p class="legend">shifts: {legend}</p>'
        f'<div class="scroll grid-wrap"><table class="grid" id="schedule-grid"><caption>{len(people)} people × '
        f"{len(dates)} days</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


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


def _rules_section(data: ReportData) -> str:
    rules = list(data.rules)
    if not rules and isinstance(data.summary.get("rules"), list | tuple):
        rules = [(str(name), "") for name in data.summary["rules"]]
    if not rules:
        return '<p class="note">No rule list was given.</p>'
    tally: dict[tuple[str, str], int] = {}
    if {"rule", "severity"} <= set(data.findings.columns):
        for (rule, severity), count in data.findings.groupby(["rule", "severity"]).size().items():
            tally[(str(rule), str(severity))] = int(count)
    items = []
    for name, summary in rules:
        marks = "".join(
            f' <span class="sev sev-{s}">{tally[(name, s)]} {esc(s)}{"s" if tally[(name, s)] != 1 else ""}</span>'
            for s in SEVERITY_ORDER
            if tally.get((name, s))
        )
        text = f": {esc(summary)}" if summary else ""
        items.append(f"<li><code>{esc(name)}</code>{text}{marks}</li>")
    return f'<ul class="rules">{"".join(items)}</ul>'


def _safe_href(href: str) -> str | None:
    """Relative links (and plain http/https); anything with another scheme (``javascript:``...) is dropped."""
    text = str(href).strip()
    if not text or any(ord(c) < 32 for c in text):
        return None
    scheme = urlsplit(text).scheme.lower()
    if scheme and scheme not in {"http", "https"}:
        return None
    return text


def _links_section(links: Mapping[str, str]) -> str:
    items = []
    for label, href in links.items():
        safe = _safe_href(href)
        if safe is None:
            items.append(
                f"<li>{esc(str(label))} <span class='note'>(link withheld: not a relative address)</span></li>"
            )
        else:
            items.append(f'<li><a href="{esc(safe, quote=True)}" rel="noopener">{esc(str(label))}</a></li>')
    return f'<ul class="links">{"".join(items)}</ul>'


# --------------------------------------------------------------------------- page

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1500px;padding:1.5rem;
color:var(--fg);background:var(--bg);line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0 .6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid var(--line);
padding-bottom:.3rem}h3{font-size:1.05rem}
a{color:#0b5cad}
nav.toc ol{display:flex;flex-wrap:wrap;gap:.3rem 1.4rem;list-style:none;padding:0;margin:.4rem 0}
.verdict{display:flex;align-items:center;gap:.8rem;margin:.4rem 0 1rem}
.badge{display:inline-block;font-weight:700;font-size:1.3rem;letter-spacing:.08em;padding:.35rem .9rem;
border-radius:.4rem;color:#fff}
.badge-pass{background:#1a7f37}.badge-fail{background:#cf222e}
.verdict-text{font-size:1.05rem;color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}
.card{border:1px solid var(--line);border-radius:.4rem;padding:.5rem .8rem;min-width:8.5rem;background:var(--soft)}
.card-value{font-size:1.25rem;font-weight:650}.card-label{font-size:.8rem;color:var(--muted)}
table{border-collapse:collapse;font-size:.82rem}
caption{text-align:left;font-size:.85rem;color:var(--muted);padding:.3rem 0}
td,th{border:1px solid var(--line);padding:.2rem .4rem;text-align:left;vertical-align:top}
thead th{background:var(--soft);position:sticky;top:0;z-index:1}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.facts th{background:var(--soft);font-weight:600}
.facts pre{margin:.2rem 0;max-height:16rem;overflow:auto;font-size:.75rem}
.scroll{overflow:auto;max-height:75vh;border:1px solid var(--line)}
.sev{display:inline-block;border-radius:.3rem;padding:0 .4rem;font-size:.78rem;font-weight:600;color:#fff}
.sev-violation{background:#cf222e}.sev-warning{background:#9a6700}.sev-info{background:#0969da}.sev-other{background:#59636e}
tr.row-violation td{background:#ffebe9}tr.row-warning td{background:#fff8c5}
button.sort{all:unset;cursor:pointer;font-weight:600}button.sort:focus-visible{outline:2px solid #0969da}
button.sort[aria-sort=ascending]::after{content:" ▲"}button.sort[aria-sort=descending]::after{content:" ▼"}
.grid td,.grid th{padding:.1rem .25rem;font-size:.7rem;white-space:nowrap;text-align:center}
.grid th.who{position:sticky;left:0;background:#fff;z-index:2;text-align:left}
.grid thead th.who{z-index:3}
.dow{color:var(--muted);font-weight:400}
.chip{display:inline-block;border:1px solid var(--line);border-radius:.3rem;padding:0 .35rem;margin:0 .15rem;
font-size:.75rem}
.s0{background:#e3f2fd}.s1{background:#ede7f6}.s2{background:#fff3e0}.s3{background:#e8f5e9}.s4{background:#fce4ec}
.s5{background:#e0f7fa}.s6{background:#f9fbe7}.s7{background:#efebe9}.s8{background:#f3e5f5}.s9{background:#e8eaf6}
figure.plot{margin:1rem 0 1.5rem;border:1px solid var(--line);border-radius:.4rem;padding:.5rem}
figcaption{font-size:.85rem;color:var(--muted);margin-top:.4rem}
.note{color:var(--muted);font-style:italic}
.advisory{border-left:4px solid #9a6700;background:#fff8c5;padding:.4rem .7rem}
ul.rules li{margin:.15rem 0}
footer{margin-top:2.5rem;font-size:.8rem;color:var(--muted)}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 nav.toc,.modebar-container,button.sort::after{display:none!important}
 .scroll{overflow:visible;max-height:none;border:0}
 thead th,.grid th.who{position:static}
 figure.plot,.cards,table.facts{break-inside:avoid;page-break-inside:avoid}
 h2{break-after:avoid;page-break-after:avoid}
 .badge,.sev,tr.row-violation td,tr.row-warning td,.grid td,.chip{-webkit-print-color-adjust:exact;
 print-color-adjust:exact}
 a{color:inherit;text-decoration:underline}
}
"""

SORT_JS = """
(function(){
  var table=document.getElementById('findings-table'); if(!table) return;
  var body=table.tBodies[0];
  table.querySelectorAll('button.sort').forEach(function(button){
    button.addEventListener('click',function(){
      var col=+button.dataset.col, up=button.getAttribute('aria-sort')!=='ascending';
      table.querySelectorAll('button.sort').forEach(function(b){b.removeAttribute('aria-sort');});
      button.setAttribute('aria-sort',up?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      function key(r){var c=r.cells[col];var v=c.hasAttribute('data-v')?c.getAttribute('data-v'):c.textContent;
        var n=parseFloat(v);return (v!==''&&!isNaN(n)&&isFinite(v))?n:v.toLowerCase();}
      rows.sort(function(a,b){var x=key(a),y=key(b);
        if(typeof x!==typeof y){x=String(x);y=String(y);} return (x<y?-1:x>y?1:0)*(up?1:-1);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


def render_report(data: ReportData) -> str:
    """One self-contained HTML document (plotly.js inline once, no network access) for ``data``."""
    figures = _Figures()
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)

    def optional(anchor: str, heading: str, frame: pd.DataFrame | None, build: Any, what: str) -> dict[str, int]:
        if frame is None:
            sections.append((anchor, heading, f'<p class="note">Not available for this run: no {what} data.</p>'))
            return {}
        if frame.empty:
            sections.append((anchor, heading, f'<p class="note">No {what} rows for this run.</p>'))
            return {}
        body, counts = build(frame, figures)
        if anchor == "burnout":
            body = (
                '<p class="advisory"><strong>Advisory — not a validated clinical instrument.</strong> '
                "These scores are a scheduling heuristic, not a diagnosis.</p>" + body
            )
        sections.append((anchor, heading, body))
        return dict(counts)

    coverage = optional("coverage", "Coverage", data.coverage, _coverage_figure, "coverage")
    hours = optional("hours", "Work hours", data.weekly_hours, _hours_figure, "weekly-hours")
    usage = optional("utilisation", "Utilisation", data.utilisation, _utilisation_figure, "utilisation")
    contingency = optional(
        "contingency", "Contingency (N-1 / N-2)", data.contingency, _contingency_figure, "contingency"
    )
    burnout = optional("burnout", "Burnout risk (advisory)", data.burnout, _burnout_figure, "burnout-risk")

    facts = _facts(data)
    if coverage:
        facts.append(("coverage cells short", str(coverage.get("short of minimum", 0))))
    if hours:
        facts.append(("resident-weeks over average limit", str(hours.get("averages_over", 0))))
    if usage:
        facts.append(("peak utilisation", f"{usage.get('peak_percent', 0)} %"))
    if contingency and contingency["n2"]:
        facts.append(("N-1 / N-2 uncovered", f"{contingency['n1_uncovered']} / {contingency['n2_uncovered']}"))
    elif contingency:  # only N-1 ran: no N-2 figure to show as zero
        facts += [("N-1 uncovered", str(contingency["n1_uncovered"])), ("N-2", "not run")]
    if burnout:
        facts.append(
            ("high/very high burnout risk (advisory)", str(burnout.get("high", 0) + burnout.get("very_high", 0)))
        )

    sections.insert(0, ("summary", "Run summary", _summary_table(data.summary)))
    sections.append(("findings", "Findings", _findings_section(data.findings)))
    sections.append(("schedule", "Schedule", _schedule_section(data)))
    sections.append(("rules", "Rules checked", _rules_section(data)))
    if data.links:
        sections.append(("links", "Links", _links_section(data.links)))

    toc = "".join(f'<li><a href="#{anchor}">{esc(heading)}</a></li>' for anchor, heading, _ in sections)
    body = "".join(
        f'<section id="{anchor}" aria-labelledby="{anchor}-h"><h2 id="{anchor}-h">{esc(heading)}</h2>'
        f"{content}</section>"
        for anchor, heading, content in sections
    )
    block = _fmt(data.summary.get("block_id", ""))
    title = "rotaflow validation report" + (f" — {block}" if block else "")
    footer_bits = [f"run {_text(data.summary['run_id'])}"] if "run_id" in data.summary else []
    if "timezone" in data.summary:
        footer_bits.append(f"dates are local to {_text(data.summary['timezone'])}")
    footer_bits.append("generated by rotaflow; this file is self-contained and works offline")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        + _header(data, facts)
        + f'<nav class="toc" aria-label="contents"><ol>{toc}</ol></nav><main>{body}</main>'
        + f"<footer>{' · '.join(footer_bits)}</footer>"
        + f"<script>{SORT_JS}</script></body></html>\n"
    )


# --------------------------------------------------------------------------- example data

EXAMPLE_SHIFTS = (  # shift_id, hours, min, max, target (filled in this order)
    ("CALL24", 24.0, 1, 1, None),
    ("NIGHT", 12.0, 2, 2, None),
    ("DAY", 12.0, 2, 4, 3),
    ("CLINIC", 9.0, 1, 3, 2),
)
EXAMPLE_RULES = [
    ("acgme_weekly_hours", "80 hours per week, averaged over 4 weeks"),
    ("acgme_day_off_in_seven", "at least 4 free 24-hour periods in every 28 days"),
    ("acgme_max_continuous_duty", "at most 24 hours scheduled plus 4 hours transition"),
    ("acgme_rest_between_shifts", "8 hours between work periods (should)"),
    ("coverage_min", "every shift has its minimum head-count"),
]


def example_data(residents: int = 12, days: int = 28, seed: int = 0, start: str = "2027-07-01") -> ReportData:
    """A realistic, deterministic run (ids only) for previews, benchmarks and tests; it has a few problems."""
    import numpy as np

    rng = np.random.default_rng(seed)
    first = dt.date.fromisoformat(start)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    people = [f"R{i + 1:03d}" for i in range(residents)]
    pgy = {p: 1 + i % 3 for i, p in enumerate(people)}
    rows: list[tuple[str, str, str, float]] = []
    coverage: list[dict[str, Any]] = []
    after_night: set[str] = set()
    scale = max(1, residents // 12)
    for day in dates:
        order = [people[i] for i in rng.permutation(residents)]
        free = [p for p in order if p not in after_night and rng.random() > 0.06]  # leave, days off
        after_night = set()
        for shift, hours, base_low, base_high, base_target in EXAMPLE_SHIFTS:
            low, high = base_low * scale, base_high * scale  # demand grows with the program
            target = None if base_target is None else base_target * scale
            want = min(high, low + int(rng.integers(0, scale + 1) if rng.random() < 0.6 else 0))
            if rng.random() < 0.03:
                want = low - 1  # a short cell now and then
            chosen, free = free[:want], free[want:]
            rows += [(p, day.isoformat(), shift, hours) for p in chosen]
            if shift in ("NIGHT", "CALL24"):
                after_night |= set(chosen)
            coverage.append(
                {
                    "date": day.isoformat(),
                    "shift_id": shift,
                    "min": low,
                    "max": high,
                    "target": target,
                    "assigned": len(chosen),
                    "met": low <= len(chosen) <= high,
                }
            )
    assignments = pd.DataFrame(rows, columns=["person_id", "date", "shift_id", "hours"])
    assignments["role"] = "resident"
    assignments["pgy"] = assignments["person_id"].map(pgy)
    cover = pd.DataFrame(coverage).astype({"max": "Int64", "target": "Int64"})

    day_index = {d.isoformat(): i for i, d in enumerate(dates)}
    assignments["_week"] = assignments["date"].map(day_index) // 7
    totals = assignments.groupby(["person_id", "_week"])["hours"].sum()
    weeks = range((days + 6) // 7)
    weekly_rows: list[dict[str, Any]] = []
    for person in people:
        series = [
            float(totals.get((person, w), 0.0)) * (1.6 if person == people[0] and w in (1, 2) else 1.0) for w in weeks
        ]
        for w in weeks:
            window = ([52.0] * 3 + series)[w : w + 4]  # the weeks before the block (history) averaged 52 h
            weekly_rows.append(
                {
                    "person_id": person,
                    "week_start": (first + dt.timedelta(days=7 * w)).isoformat(),
                    "hours": round(series[w], 1),
                    "average_4w": round(sum(window) / 4, 1),
                    "limit": 80.0,
                }
            )
    weekly = pd.DataFrame(weekly_rows)
    assignments = assignments.drop(columns="_week")

    per_day = assignments.groupby("date")["hours"].sum()
    capacity = residents * 11.0
    util_rows = []
    for i, day in enumerate(dates):
        required = float(per_day.get(day.isoformat(), 0.0)) * (0.8 + 0.5 * math.sin(i / 4) ** 2)
        value = required / capacity
        util_rows.append(
            {
                "date": day.isoformat(),
                "required_hours": round(required, 1),
                "available_hours": capacity,
                "utilisation": round(value, 4),
                "band": utilisation_band(value),
            }
        )
    utilisation = pd.DataFrame(util_rows)

    scenarios: list[dict[str, Any]] = []
    weak = set(people[:: max(1, residents // 3)])  # people whose loss hurts
    for i, a in enumerate(people):
        for b in people[i:]:
            lost = (a,) if a == b else (a, b)
            uncovered = a == people[0] if a == b else (a in weak and b in weak)
            scenarios.append(
                {
                    "people": lost,
                    "outcome": "uncovered" if uncovered else "covered",
                    "repair_size": None if uncovered else int(rng.integers(0, 12)),
                    "first_uncovered_date": dates[min(3, days - 1)].isoformat() if uncovered else None,
                    "first_uncovered_shift": "NIGHT" if uncovered else None,
                }
            )
    contingency = pd.DataFrame(scenarios)

    nights = assignments[assignments["shift_id"].isin(["NIGHT", "CALL24"])].groupby("person_id").size()
    hours_avg = weekly.groupby("person_id")["hours"].mean()
    burnout_rows = []
    for person in people:
        hours_part = min(50.0, max(0.0, (float(hours_avg.get(person, 0.0)) - 40.0) * 1.2))
        night_part = min(30.0, float(nights.get(person, 0)) * 30.0 / max(1, days / 3))
        rest_part = float(rng.integers(0, 21))
        score = round(min(100.0, hours_part + night_part + rest_part), 1)
        band = "low" if score < 40 else "moderate" if score < 60 else "high" if score < 80 else "very_high"
        burnout_rows.append(
            {
                "person_id": person,
                "score": score,
                "band": band,
                "hours_component": round(hours_part, 1),
                "nights_component": round(night_part, 1),
                "short_rest_component": rest_part,
            }
        )
    burnout = pd.DataFrame(burnout_rows)

    findings_rows: list[dict[str, Any]] = []
    for row in coverage:
        if row["assigned"] < row["min"]:
            findings_rows.append(
                {
                    "rule": "coverage_min",
                    "severity": "violation",
                    "person_id": "",
                    "window_start": row["date"],
                    "window_end": row["date"],
                    "value": float(row["assigned"]),
                    "limit": float(row["min"]),
                    "unit": "people",
                    "message": f"{row['shift_id']} on {row['date']} has {row['assigned']} of {row['min']} people.",
                }
            )
    for row in weekly_rows:
        end = (dt.date.fromisoformat(row["week_start"]) + dt.timedelta(days=6)).isoformat()
        if row["average_4w"] is not None and row["average_4w"] > row["limit"]:
            findings_rows.append(
                {
                    "rule": "acgme_weekly_hours",
                    "severity": "violation",
                    "person_id": row["person_id"],
                    "window_start": row["week_start"],
                    "window_end": end,
                    "value": row["average_4w"],
                    "limit": row["limit"],
                    "unit": "hours_per_week",
                    "message": f"The 4-week average is {row['average_4w']} hours per week, above {row['limit']:.0f}.",
                }
            )
        elif row["hours"] > row["limit"]:
            findings_rows.append(
                {
                    "rule": "acgme_weekly_hours",
                    "severity": "info",
                    "person_id": row["person_id"],
                    "window_start": row["week_start"],
                    "window_end": end,
                    "value": row["hours"],
                    "limit": row["limit"],
                    "unit": "hours",
                    "message": f"This week alone has {row['hours']} hours; the 4-week average is within the limit.",
                }
            )
    for person in people[1:3]:
        findings_rows.append(
            {
                "rule": "acgme_rest_between_shifts",
                "severity": "warning",
                "person_id": person,
                "window_start": dates[min(5, days - 1)].isoformat(),
                "window_end": dates[min(6, days - 1)].isoformat(),
                "value": 7.0,
                "limit": 8.0,
                "unit": "hours",
                "message": "Only 7 hours between two work periods; 8 are expected.",
            }
        )
    findings = pd.DataFrame(findings_rows, columns=list(FINDING_COLUMNS))
    violations = int((findings["severity"] == "violation").sum())
    summary = {
        "run_id": f"example-{seed}",
        "program": "Example Internal Medicine Residency",
        "block_id": "2027-B01",
        "status": "feasible",
        "objective": 412.0,
        "best_bound": 398.5,
        "solve_seconds": 41.7,
        "hard_violations": violations,
        "warnings": int((findings["severity"] == "warning").sum()),
        "timezone": "America/New_York",
        "period_start": dates[0].isoformat(),
        "period_end": dates[-1].isoformat(),
    }
    return ReportData(
        summary=summary,
        findings=findings,
        assignments=assignments,
        coverage=cover,
        weekly_hours=weekly,
        utilisation=utilisation,
        contingency=contingency,
        burnout=burnout,
        rules=list(EXAMPLE_RULES),
        links={"findings.csv": "findings.csv", "assignments.csv": "assignments.csv", "Data Docs": "gx/index.html"},
    )


if __name__ == "__main__":  # pragma: no cover - preview: python -m validations.report [OUT.html [RESIDENTS DAYS]]
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "report-example.html"
    size = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (12, 28)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(render_report(example_data(*size)))
    print(target)
