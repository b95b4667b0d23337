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

The parts: ``common`` (``ReportData``, colours, value helpers), ``figures`` (coverage, weekly hours,
utilisation) and ``risk_figures`` (contingency, burnout), ``sections`` (header, tables, schedule
grid, rules, links), ``page`` (``render_report`` with ``report.css`` and ``report.js`` inline) and
``example`` (the demo run behind ``python -m rotaflow.validations.report``).
"""

from rotaflow.validations.report.common import (
    BAND_COLOURS,
    BURNOUT_COLOURS,
    FINDING_COLUMNS,
    PLOT_IDS,
    ReportData,
    passed,
    utilisation_band,
)
from rotaflow.validations.report.example import example_data
from rotaflow.validations.report.page import render_report

__all__ = [
    "BAND_COLOURS",
    "BURNOUT_COLOURS",
    "FINDING_COLUMNS",
    "PLOT_IDS",
    "ReportData",
    "example_data",
    "passed",
    "render_report",
    "utilisation_band",
]
