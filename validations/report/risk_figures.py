"""The plotly figures of the schedule's risks: contingency (who can be lost, N-1 / N-2) and the
advisory burnout score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from rotaflow.validations.report.common import (
    BURNOUT_COLOURS,
    CONTINGENCY_LAYERS,
    PLOT_IDS,
    _fmt,
    _missing,
    _num,
    _people_of,
    _plot_text,
    _safe_columns,
    _sorted_ids,
)
from rotaflow.validations.report.figures import _Figures, _layout


def _scenario_text(row: Mapping[str, Any]) -> tuple[str, str]:
    """A scenario's outcome (covered, uncovered or undecided) and its hover text, the same words in the N-1
    chart and the N-1 / N-2 matrix."""
    outcome = _fmt(row.get("outcome")).lower()
    if outcome == "covered":
        repair = _num(row.get("repair_size"))
        return "covered", f"covered; the repair changes {'unknown' if repair is None else _fmt(repair)} assignments"
    if outcome == "uncovered":
        where = " ".join(_fmt(row.get(k)) for k in ("first_uncovered_date", "first_uncovered_shift")).strip()
        kind = "uncovered"
        text = "CRITICAL: uncovered " + (f"from {_plot_text(where)}" if where else "from an unknown day")
    else:
        kind, text = "undecided", f"not decided (outcome {_plot_text(outcome) or 'missing'})"
    if not _missing(row.get("settled_by")):
        text += f"<br>settled by {_plot_text(_fmt(row.get('settled_by')))}"
    return kind, text


def _contingency_figure(contingency: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
    import plotly.graph_objects as go

    scenarios: dict[tuple[str, str], dict[str, Any]] = {}
    for row in contingency.to_dict("records"):
        people = _people_of(row.get("people"))
        if not people:
            continue
        a, b = (people[0], people[0]) if len(people) == 1 else (people[0], people[1])
        scenarios[tuple(sorted((a, b)))] = row  # type: ignore[index]
    if scenarios and all(a == b for a, b in scenarios):  # only N-1 ran: one bar per person, not a diagonal
        return _n1_figure({a: row for (a, _), row in scenarios.items()}, figures)
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
        layer, text = _scenario_text(row)
        if layer == "covered":
            repair = _num(row.get("repair_size"))
            repair_z[i][j] = repair or 0.0
            repair_text[i][j] = text
            biggest = max(biggest, repair or 0.0)
            continue
        if layer == "uncovered":
            counts["n1_uncovered" if single else "n2_uncovered"] += 1
        else:
            counts["undecided"] += 1
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
            hovertemplate="without %{y} and %{x}<br>%{customdata}<extra></extra>",
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


N1_COLOURS = {"covered": "#2e7d32", "uncovered": "#c62828", "undecided": "#9e9e9e"}


def _n1_figure(singles: dict[str, dict[str, Any]], figures: _Figures) -> tuple[str, dict[str, int]]:
    """N-1 only: one bar per person lost, one trace per outcome. Covered: the repair's size (assignments
    changed); uncovered (a critical person) and undecided: a full-height bar, labelled."""
    import plotly.graph_objects as go

    people = _sorted_ids(singles)
    counts = {"n1_uncovered": 0, "n2_uncovered": 0, "n1": len(people), "n2": 0, "undecided": 0}
    rows: dict[str, list[tuple[str, float | None, str]]] = {k: [] for k in N1_COLOURS}
    repairs = [_num(singles[p].get("repair_size")) for p in people]
    top = max([r for r in repairs if r is not None] + [1.0])
    for person in people:
        row = singles[person]
        kind, text = _scenario_text(row)
        if kind == "covered":
            rows["covered"].append((person, _num(row.get("repair_size")) or 0.0, text))
            continue
        counts["n1_uncovered" if kind == "uncovered" else "undecided"] += 1
        rows[kind].append((person, top, text))
    figure = go.Figure()
    labels = {"covered": "covered (repair size)", "uncovered": "critical: uncovered", "undecided": "not decided"}
    marks = {"uncovered": "critical", "undecided": "?"}
    labelled = len(people) <= 60  # a label on every bar (a repair of 0 has no bar to see) while they fit
    for kind, colour in N1_COLOURS.items():
        if not rows[kind]:
            continue
        bar_text = [_fmt(v) if kind == "covered" else marks[kind] for _, v, _ in rows[kind]]
        figure.add_trace(
            go.Bar(
                x=[_plot_text(p) for p, _, _ in rows[kind]],
                y=[v for _, v, _ in rows[kind]],
                name=labels[kind],
                marker={"color": colour, "line": {"width": 0}},
                customdata=[t for _, _, t in rows[kind]],
                hovertemplate="without %{x}<br>%{customdata}<extra></extra>",
                **(
                    {
                        "text": bar_text,
                        "textposition": "outside" if kind == "covered" else "inside",
                        "cliponaxis": False,
                    }
                    if labelled
                    else {}
                ),
            )
        )
    names = [_plot_text(p) for p in people]
    figure.update_layout(
        _layout(
            340,
            barmode="overlay",
            bargap=0.15,
            xaxis={
                "type": "category",
                "categoryorder": "array",
                "categoryarray": names,
                "title": {"text": "person lost"},
                "tickangle": -60,
                "showticklabels": len(names) <= 150,
            },
            yaxis={"title": {"text": "assignments the repair changes"}, "range": [0, top * 1.12]},
            legend={"title": {"text": "without that person"}},
        )
    )
    alt = (
        f"Bar chart of {len(people)} single-loss (N-1) scenarios, one per person: {counts['n1_uncovered']} "
        "critical (uncovered), the others covered with the size of their repair"
        + (f"; {counts['undecided']} not decided." if counts["undecided"] else ".")
    )
    caption = (
        "One bar per person: the block without that person (N-1). Green: still coverable, the bar's height is how "
        "many assignments the repair changes; red, full height: critical, the must-rules cannot be met any more "
        "(hover for the first uncovered day and shift); grey: not decided within the time limit. "
        "N-2 (losing any two people) was not run for this report."
    )
    return figures.render(figure, PLOT_IDS["contingency"], alt, caption, "N-1 contingency: who can be lost"), counts


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
