"""The page: ``render_report`` assembles header, figures and sections into one self-contained HTML
document, with its stylesheet (report.css) and table-sorting script (report.js) inline."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pandas as pd

from rotaflow.validations.report.common import (
    DEFAULT_WEEKLY_LIMIT,
    ReportData,
    _fmt,
    _num,
    _text,
    esc,
    partial_averages,
    rotation_colours,
    rotation_ids,
)
from rotaflow.validations.report.figures import (
    _coverage_figure,
    _Figures,
    _hours_figure,
    _hours_per_resident_figure,
    _utilisation_figure,
)
from rotaflow.validations.report.glance import _given, _glance_section
from rotaflow.validations.report.risk_figures import _burnout_figure, _contingency_figure
from rotaflow.validations.report.sections import (
    _facts,
    _findings_section,
    _header,
    _links_section,
    _rules_section,
    _schedule_section,
    _summary_table,
)

CSS = (files(__package__) / "report.css").read_text(encoding="utf-8")
SORT_JS = (files(__package__) / "report.js").read_text(encoding="utf-8")


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

    glance = _glance_section(data)  # before any figure: it holds no plot
    coverage = optional("coverage", "Coverage", data.coverage, _coverage_figure, "coverage")
    limit = _num(_given(data.summary, "weekly_limit_hours")) or DEFAULT_WEEKLY_LIMIT
    colours = rotation_colours(rotation_ids(data))  # one colour per rotation: the hours chart and the grid

    def hours_figures(frame: pd.DataFrame, figures: _Figures) -> tuple[str, dict[str, int]]:
        partial = partial_averages(frame, data.summary, data.average_window_days)
        per_person, _ = _hours_per_resident_figure(
            frame, data.assignments, figures, limit, data.people, data.rotations, colours, partial
        )
        body, counts = _hours_figure(frame, figures, limit, partial)
        return _history_note(data) + per_person + body, counts

    hours = optional("hours", "Work hours", data.weekly_hours, hours_figures, "weekly-hours")
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
    sections.append(("schedule", "Schedule", _schedule_section(data, colours)))
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
        f"<title>{esc(title)}</title><style>\n{CSS}</style></head><body>"
        + _header(data, facts)
        + glance
        + f'<nav class="toc" aria-label="contents"><ol>{toc}</ol></nav><main>{body}</main>'
        + f"<footer>{' · '.join(footer_bits)}</footer>"
        + f"<script>\n{SORT_JS}</script></body></html>\n"
    )


def _history_note(data: ReportData) -> str:
    """Without history before the period, the first weeks' 4-week averages hold only the days inside it."""
    if _given(data.summary, "history_given") is not False:
        return ""
    return (
        '<p class="note history-note" id="no-history"><strong>No history before the block was given</strong> '
        "(no history.csv, and no published schedule before it): a 4-week average whose window reaches before "
        "the block is not known. The heat map draws those cells grey (hover for the hours inside the block, a "
        "lower bound) and the hours chart's diamonds use complete windows only; the weeks before are unknown, "
        "not 0 h.</p>"
    )
