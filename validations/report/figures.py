"""The plotly figures of the schedule's load: coverage, weekly hours and utilisation, and the renderer
that embeds plotly.js inline with the first figure only.

Every figure is a heatmap or a handful of bar traces, never one trace per resident, so large programs
(300 residents x a year) stay usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rotaflow.validations.report.common import (
    BAND_COLOURS,
    BAND_THRESHOLDS,
    COVERAGE_STATES,
    DEFAULT_WEEKLY_LIMIT,
    PLOT_IDS,
    PLOTLY_CONFIG,
    ROTATION_PALETTE,
    UNKNOWN_ROTATION_COLOUR,
    _fmt,
    _iso_dates,
    _missing,
    _num,
    _plot_text,
    _sorted_ids,
    above_limit,
    esc,
    rotation_colours,
    utilisation_band,
    week_limits,
)

#: the colour of a 4-week average that is not known (its window reaches before the period, with no history)
UNKNOWN_AVERAGE_COLOUR = "#d0d0d0"


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


def _hours_figure(
    weekly: pd.DataFrame,
    figures: _Figures,
    limit: float = DEFAULT_WEEKLY_LIMIT,
    partial: pd.Series | None = None,
) -> tuple[str, dict[str, int]]:
    """Two heat maps, residents by weeks: each week's own total and its 4-week average, as a share of the
    week's limit (``common.week_limits``), crosses on the cells above it. ``partial`` marks the rows whose
    4-week average is not known (``common.partial_averages``): those cells are grey, with what is known of
    them in the hover."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    frame = weekly.copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["week_start"] = _iso_dates(frame["week_start"])
    frame["_limit"] = week_limits(weekly, limit).to_numpy()
    frame["_week_over"] = above_limit(weekly["hours"], frame["_limit"]).to_numpy()
    averages = weekly["average_4w"] if "average_4w" in weekly else pd.Series(None, index=weekly.index)
    frame["_average_over"] = above_limit(averages, frame["_limit"]).to_numpy()
    frame["_partial"] = partial.to_numpy(dtype=bool) if partial is not None else False
    people = _sorted_ids(frame["person_id"])
    weeks = sorted(frame["week_start"].unique())
    index = {(r["person_id"], r["week_start"]): r for r in frame.to_dict("records")}
    top = 1.25  # the colour scale ends at 125 % of the limit
    week_z: list[list[float | None]] = []
    avg_z: list[list[float | None]] = []
    unknown_z: list[list[int | None]] = []
    custom: list[list[list[Any]]] = []
    over_week: list[tuple[str, str]] = []
    over_avg: list[tuple[str, str]] = []
    for person in people:
        week_row: list[float | None] = []
        avg_row: list[float | None] = []
        unknown_row: list[int | None] = []
        custom_row: list[list[Any]] = []
        for week in weeks:
            row = index.get((person, week))
            hours = _num(row.get("hours")) if row else None
            average = _num(row.get("average_4w")) if row else None
            bound = float(row["_limit"]) if row else limit
            unknown = bool(row and row["_partial"])
            week_row.append(None if hours is None else round(min(hours / bound, top), 3))
            avg_row.append(None if average is None or unknown else round(min(average / bound, top), 3))
            unknown_row.append(1 if unknown and average is not None else None)
            if average is None:
                said = "not known"
            elif unknown:
                said = (
                    f"not known: history before the block unknown ({_fmt(round(average, 1))} h counting "
                    "only the days inside it, a lower bound)"
                )
            else:
                said = f"{average:.1f} h"
            custom_row.append([hours, average, bound, said])
            if row and row["_week_over"]:
                over_week.append((_plot_text(person), week))
            if row and row["_average_over"]:  # a lower bound above the limit is above it too
                over_avg.append((_plot_text(person), week))
        week_z.append(week_row)
        avg_z.append(avg_row)
        unknown_z.append(unknown_row)
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
    template = "%{y} · week of %{x}<br>week total %{customdata[0]:.1f} h<br>4-week average %{customdata[3]}"
    template += "<br>limit %{customdata[2]:.1f} h<extra></extra>"
    gaps = {"xgap": 1 if len(weeks) < 60 else 0, "ygap": 1 if len(people) < 60 else 0}
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
                hoverongaps=False,
                **gaps,
            ),
            row=1,
            col=col,
        )
        if col == 2 and any(v is not None for r in unknown_z for v in r):
            fig.add_trace(
                go.Heatmap(
                    x=weeks,
                    y=names,
                    z=unknown_z,
                    zmin=0,
                    zmax=1,
                    colorscale=[[0, UNKNOWN_AVERAGE_COLOUR], [1, UNKNOWN_AVERAGE_COLOUR]],
                    showscale=False,
                    customdata=custom,
                    hovertemplate=template,
                    name="history before the block unknown",
                    hoverongaps=False,
                    **gaps,
                ),
                row=1,
                col=2,
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
    unknown_cells = sum(1 for r in unknown_z for v in r if v is not None)
    counts = {"weeks_over": len(over_week), "averages_over": len(over_avg), "averages_unknown": unknown_cells}
    alt = (
        f"Heatmaps of weekly work hours for {len(people)} residents over {len(weeks)} weeks, as a share of each "
        f"week's limit: {counts['weeks_over']} resident-weeks whose own total exceeds it, "
        f"{counts['averages_over']} whose 4-week average exceeds it"
        + (f"; {unknown_cells} 4-week averages not known (history before the block unknown)." if unknown_cells else ".")
    )
    caption = (
        "Left: the hours worked in each week; right: the 4-week average the ACGME rule is held against. "
        f"Each cell is measured against that resident-week's limit: {_fmt(limit)} h, lowered by leave in the "
        "week's 4-week window (the same limit the At a glance count and the hours chart's crosses use). "
        "Blue shades stay under the limit, orange to dark red are above it; crosses mark cells above the limit. "
        + (
            "Grey: a 4-week average whose window reaches before the block, for which no history was given: not "
            "known (a cross on grey means even the days inside the block are above the limit). "
            if unknown_cells
            else ""
        )
        + "Hover for hours."
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


def _groups_of(
    people: list[str],
    assignments: pd.DataFrame,
    roster: pd.DataFrame | None = None,
    rotations: pd.DataFrame | None = None,
) -> dict[str, tuple[str, str]]:
    """Each person's (PGY, rotation) as labels: PGY from the assignments' ``pgy`` column, the rotation the one
    they work most shifts in (``rotation_id``); for someone with no shift (a block of leave, say) the PGY from
    ``roster`` (people.csv's person_id, pgy) and the rotation of their longest stretch in ``rotations``
    (person_id, start_date, end_date, rotation_id); "—" when not known."""
    found = _groups_from_shifts(people, assignments) if "person_id" in assignments else {}
    pgy = {p: label for p, (label, _) in found.items() if label != "—"}
    rotation = {p: label for p, (_, label) in found.items() if label != "—"}
    if roster is not None and {"person_id", "pgy"} <= set(roster.columns):
        for person, value in zip(roster["person_id"].astype(str), roster["pgy"], strict=True):
            number = _num(value)
            if person not in pgy and number is not None:
                pgy[person] = _fmt(int(number)) if number.is_integer() else _fmt(value)
    if rotations is not None and {"person_id", "start_date", "end_date", "rotation_id"} <= set(rotations.columns):
        spans = rotations.assign(
            _person=rotations["person_id"].astype(str),
            _days=(pd.to_datetime(rotations["end_date"]) - pd.to_datetime(rotations["start_date"])).dt.days,
        ).sort_values(["_person", "_days"], ascending=[True, False], kind="stable")
        for person, value in zip(spans["_person"], spans["rotation_id"], strict=True):
            if person not in rotation and not _missing(value):
                rotation[person] = str(value)
    return {p: (pgy.get(p, "—"), rotation.get(p, "—")) for p in people}


def _groups_from_shifts(people: list[str], assignments: pd.DataFrame) -> dict[str, tuple[str, str]]:
    frame = assignments.assign(_person=assignments["person_id"].astype(str))
    pgy: dict[str, str] = {}
    if "pgy" in frame:
        for person, value in zip(frame["_person"], frame["pgy"], strict=True):
            if person not in pgy and not _missing(value):
                number = _num(value)
                pgy[person] = _fmt(int(number)) if number is not None and number.is_integer() else _fmt(value)
    rotation: dict[str, str] = {}
    if "rotation_id" in frame:
        known = frame[[not _missing(r) and str(r) != "" for r in frame["rotation_id"]]]
        if len(known):
            counts = known.groupby(["_person", known["rotation_id"].astype(str)]).size().reset_index(name="n")
            counts = counts.sort_values(["_person", "n", "rotation_id"], ascending=[True, False, True])
            first = counts.drop_duplicates("_person")  # the most shifts; a tie goes to the first rotation id
            rotation = dict(zip(first["_person"], first["rotation_id"], strict=True))
    return {p: (pgy.get(p, "—"), rotation.get(p, "—")) for p in people}


def _hours_per_resident_figure(
    weekly: pd.DataFrame,
    assignments: pd.DataFrame,
    figures: _Figures,
    limit: float = DEFAULT_WEEKLY_LIMIT,
    roster: pd.DataFrame | None = None,
    rotations: pd.DataFrame | None = None,
    colours: Mapping[str, str] | None = None,
    partial: pd.Series | None = None,
) -> tuple[str, dict[str, int]]:
    """Each resident's highest single week (a bar) and highest complete 4-week average (a diamond) against the
    limit, residents ordered by PGY, then rotation, then id; one bar trace per rotation, never one per
    resident, coloured by the report's rotation colours (``colours``, as in the schedule grid). A cross marks
    the residents above a week's limit in a single week (``common.week_limits``, the glance's definition);
    ``partial`` marks the rows whose 4-week average is not known, left out of the diamonds."""
    import plotly.graph_objects as go

    frame = weekly.copy()
    frame["person_id"] = frame["person_id"].astype(str)
    frame["_hours"] = pd.to_numeric(frame["hours"], errors="coerce")
    limits = week_limits(weekly, limit)
    frame["_week_over"] = above_limit(weekly["hours"], limits).to_numpy()
    with_average = "average_4w" in frame
    if with_average:
        known = ~(partial.to_numpy(dtype=bool) if partial is not None else False)
        frame["_average"] = pd.to_numeric(frame["average_4w"], errors="coerce").where(known)
        frame["_average_over"] = above_limit(weekly["average_4w"], limits).to_numpy() & known
    peak_week = frame.groupby("person_id")["_hours"].max()
    peak_average = frame.groupby("person_id")["_average"].max() if with_average else None
    over_in_week = set(frame.loc[frame["_week_over"], "person_id"])
    over_on_average = set(frame.loc[frame["_average_over"], "person_id"]) if with_average else set()
    people = _sorted_ids(frame["person_id"])
    groups = _groups_of(people, assignments, roster, rotations)
    rank = {p: i for i, p in enumerate(people)}

    def pgy_key(label: str) -> tuple[int, float, str]:
        number = _num(label)
        return (0, number, "") if number is not None else (1, 0.0, label)

    order = sorted(people, key=lambda p: (pgy_key(groups[p][0]), groups[p][1], rank[p]))
    names = [_plot_text(p) for p in order]
    shown = _sorted_ids({groups[p][1] for p in order})
    palette = dict(colours) if colours is not None else rotation_colours(r for r in shown if r != "—")
    for rot in shown:  # a rotation the report's map lacks (not expected): the next colour
        if rot != "—" and rot not in palette:
            palette[rot] = ROTATION_PALETTE[len(palette) % len(ROTATION_PALETTE)]

    def value(series: pd.Series | None, person: str) -> float | None:
        if series is None:
            return None
        found = _num(series.get(person))
        return None if found is None else round(found, 1)

    def average_words(person: str) -> str:
        found = value(peak_average, person)
        if found is not None:
            return f"{found:.1f} h"
        return "not known (no complete 4-week window)" if with_average else "not known"

    figure = go.Figure()
    for rot in shown:
        members = [p for p in order if groups[p][1] == rot]
        figure.add_trace(
            go.Bar(
                x=[_plot_text(p) for p in members],
                y=[value(peak_week, p) for p in members],
                name=_plot_text(rot) if rot != "—" else "not known",
                legendgroup="rotation",
                legendgrouptitle={"text": "rotation"},
                marker={"color": palette.get(rot, UNKNOWN_ROTATION_COLOUR), "line": {"width": 0}},
                customdata=[[_plot_text(groups[p][0]), _plot_text(rot), average_words(p)] for p in members],
                hovertemplate="%{x} · PGY %{customdata[0]} · %{customdata[1]}<br>highest week %{y:.1f} h"
                "<br>highest 4-week average %{customdata[2]}<extra></extra>",
            )
        )
    if peak_average is not None:
        figure.add_trace(
            go.Scatter(
                x=names,
                y=[value(peak_average, p) for p in order],
                mode="markers",
                name="highest 4-week average",
                marker={"symbol": "diamond", "size": 7, "color": "#111", "line": {"width": 1, "color": "#fff"}},
                hovertemplate="%{x}<br>highest complete 4-week average %{y:.1f} h<extra></extra>",
            )
        )
    flagged = [p for p in order if p in over_in_week]
    if flagged:  # the same residents as At a glance and the heat map's crosses
        figure.add_trace(
            go.Scatter(
                x=[_plot_text(p) for p in flagged],
                y=[value(peak_week, p) for p in flagged],
                mode="markers",
                name="above a week's limit",
                marker={"symbol": "x-thin", "size": 9, "line": {"width": 2, "color": "#c62828"}},
                hovertemplate="%{x}<br>above the week's limit in a single week<extra></extra>",
            )
        )
    shapes: list[dict[str, Any]] = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": limit,
            "y1": limit,
            "line": {"dash": "dash", "width": 2, "color": "#c62828"},
        }
    ]
    annotations: list[dict[str, Any]] = [
        {
            "xref": "paper",
            "x": 1,
            "xanchor": "left",
            "yref": "y",
            "y": limit,
            "text": f"{_fmt(limit)} h",
            "showarrow": False,
            "font": {"size": 11, "color": "#c62828"},
        }
    ]
    start = 0
    for band, (label, size) in enumerate(_label_runs([groups[p][0] for p in order])):
        end = start + size
        if band % 2 == 0:  # every other PGY group shaded, each labelled above the bars
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "x0": start - 0.5,
                    "x1": end - 0.5,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": "#f1f3f5",
                    "line": {"width": 0},
                    "layer": "below",
                }
            )
        annotations.append(
            {
                "xref": "x",
                "x": (start + end - 1) / 2,
                "yref": "paper",
                "y": 1.0,
                "yanchor": "bottom",
                "text": f"PGY {_plot_text(label)}" if label != "—" else "PGY unknown",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
        start = end
    highest = max([v for v in (value(peak_week, p) for p in order) if v is not None] + [limit])
    figure.update_layout(
        _layout(
            420,
            barmode="overlay",
            bargap=0.15,
            shapes=shapes,
            annotations=annotations,
            xaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": names,
                "range": [-0.5, len(names) - 0.5],
                "title": {"text": "resident (by PGY, then rotation)"},
                "tickangle": -60,
                "showticklabels": len(names) <= 120,
            },
            yaxis={"title": {"text": "hours"}, "range": [0, highest * 1.1]},
            legend={"orientation": "v"},
            margin={"l": 70, "r": 60, "t": 50, "b": 80},
        )
    )
    over_week = len(over_in_week)
    over_average = len(over_on_average)
    counts = {"residents": len(order), "over_in_a_week": over_week, "over_on_average": over_average}
    alt = (
        f"Bar chart of {len(order)} residents' highest single-week hours, grouped by PGY and coloured by "
        f"rotation, against the {_fmt(limit)}-hour line: {over_week} above their limit in a single week, "
        f"{over_average} with a complete 4-week average above it."
    )
    caption = (
        f"Bars: each resident's highest single 7-day week in the period; diamonds: their highest 4-week average "
        f"(what the ACGME rule holds to {_fmt(limit)} h), of complete 4-week windows only (without history "
        f"before the block, a window reaching before it is not known). The dashed line is {_fmt(limit)} h. A red "
        f"cross marks a resident above a week's limit in a single week: {_fmt(limit)} h, lowered by leave in "
        "the week's 4-week window (the same residents as At a glance and the heat map's crosses). Residents are "
        "grouped by PGY (labelled bands), then by rotation (colour, as in the schedule grid; a resident's "
        "rotation is the one they work most shifts in). A bar above the line is allowed while the diamond stays "
        "under it."
    )
    return figures.render(figure, PLOT_IDS["hours_per_resident"], alt, caption, "Hours per resident"), counts


def _label_runs(labels: list[str]) -> list[tuple[str, int]]:
    """Consecutive equal labels as (label, how many)."""
    out: list[tuple[str, int]] = []
    for label in labels:
        if out and out[-1][0] == label:
            out[-1] = (label, out[-1][1] + 1)
        else:
            out.append((label, 1))
    return out
