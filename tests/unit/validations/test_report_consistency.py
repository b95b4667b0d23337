"""report.html says one thing once: one rotation colour map, one "above the limit", one hover text per
scenario, unknown 4-week averages drawn as unknown, and printed tables that keep their header and dates."""

from __future__ import annotations

import html
import json
import re

import pandas as pd

from rotaflow.validations.report import PLOT_IDS, render_report
from rotaflow.validations.report.common import (
    ROTATION_PALETTE,
    above_limit,
    partial_averages,
    rotation_colours,
    week_limits,
)
from rotaflow.validations.report.risk_figures import _scenario_text
from tests.unit.validations.test_report import finding, minimal, plot_json
from tests.unit.validations.test_report_glance import glance


def _weekly(rows: list[tuple[str, str, float, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["person_id", "week_start", "hours", "average_4w", "limit"])


def test_a_rotation_has_one_colour_in_the_grid_and_in_the_hours_chart() -> None:
    # the grid sees INPT and NF (rotation spans in the period), the chart also ICU (an assignment's rotation):
    # each used to number its own rotations, so INPT had two colours on the page
    rotations = pd.DataFrame(
        {
            "person_id": ["R01", "R02"],
            "start_date": ["2027-07-01", "2027-07-01"],
            "end_date": ["2027-07-28", "2027-07-28"],
            "rotation_id": ["INPT", "NF"],
        }
    )
    assignments = pd.DataFrame(
        {
            "person_id": ["R01", "R02", "R03"],
            "date": ["2027-07-01"] * 3,
            "shift_id": ["DAY", "NIGHT", "DAY"],
            "rotation_id": ["INPT", "NF", "ICU"],
            "pgy": [1, 1, 2],
        }
    )
    weekly = _weekly([(p, "2027-07-01", 40.0, 40.0, 80.0) for p in ("R01", "R02", "R03")])
    page = render_report(minimal(assignments=assignments, rotations=rotations, weekly_hours=weekly))
    colours = rotation_colours(["INPT", "NF", "ICU"])
    assert colours == {"ICU": ROTATION_PALETTE[0], "INPT": ROTATION_PALETTE[1], "NF": ROTATION_PALETTE[2]}
    traces, _ = plot_json(page, PLOT_IDS["hours_per_resident"])
    bars = {t["name"]: t["marker"]["color"] for t in traces if t["type"] == "bar"}
    assert bars == colours
    grid = page[page.index('<section id="schedule"') :]
    band = dict(re.findall(r"\.(r\d+)\{box-shadow:inset 0 -4px 0 (#[0-9a-f]{6})", grid))
    chip = dict(re.findall(r"<span class='chip rot-chip (r\d+)'>([^<]+)</span>", grid))
    assert {rotation: band[css] for css, rotation in chip.items()} == {"INPT": colours["INPT"], "NF": colours["NF"]}


def test_above_the_limit_is_one_definition_the_glance_chart_and_heat_map_share() -> None:
    weekly = _weekly(
        [
            ("R1", "2027-07-01", 80.04, 79.0, 80.0),  # 0.04 h above: rounding to 0.1 used to hide it in the chart
            ("R2", "2027-07-01", 70.0, 65.0, 60.0),  # leave lowered the week's limit to 60 h
            ("R3", "2027-07-01", 85.0, 70.0, None),  # no limit of its own: the program's
            ("R4", "2027-07-01", 80.0, 80.0, 80.0),  # at the limit is not above it
        ]
    )
    limits = week_limits(weekly, 80.0)
    assert list(limits) == [80.0, 60.0, 80.0, 80.0]
    assert list(above_limit(weekly["hours"], limits)) == [True, True, True, False]
    page = render_report(minimal(weekly_hours=weekly))
    over = glance(page)["single_week_over_limit"]
    assert over == ["R1", "R2", "R3"]
    traces, _ = plot_json(page, PLOT_IDS["hours_per_resident"])
    (crosses,) = [t for t in traces if t["name"] == "above a week's limit"]
    assert sorted(crosses["x"]) == over
    heat, _ = plot_json(page, PLOT_IDS["hours"])
    week_crosses = [t for t in heat if t["type"] == "scatter"][0]
    assert sorted(week_crosses["y"]) == over
    assert "3 above their limit in a single week" in page
    assert "3 resident-weeks whose own total exceeds it" in page
    assert "lowered by leave in the week's 4-week window" in page.replace("&#x27;", "'")


def test_both_contingency_figures_word_a_scenario_alike() -> None:
    row = {"outcome": "uncovered", "first_uncovered_date": "2027-07-03", "first_uncovered_shift": "NIGHT"}
    kind, text = _scenario_text(row)
    assert (kind, text) == ("uncovered", "CRITICAL: uncovered from 2027-07-03 NIGHT")
    single = pd.DataFrame([{"people": ("R1",), **row}, {"people": ("R2",), "outcome": "covered", "repair_size": 2}])
    pair = pd.concat([single, pd.DataFrame([{"people": ("R1", "R2"), "outcome": "covered", "repair_size": 5}])])
    chart, _ = plot_json(render_report(minimal(contingency=single)), PLOT_IDS["contingency"])
    matrix, _ = plot_json(render_report(minimal(contingency=pair)), PLOT_IDS["contingency"])
    (critical,) = [t for t in chart if t["name"] == "critical: uncovered"]
    (lost,) = [t for t in matrix if t.get("name") == "uncovered"]
    assert critical["customdata"] == [text] and lost["text"][0] == [text]
    covered_bar = [t for t in chart if t["name"] == "covered (repair size)"][0]["customdata"]
    covered_cell = matrix[0]["customdata"]
    assert covered_bar == [_scenario_text({"outcome": "covered", "repair_size": 2})[1]] == [covered_cell[1][1]]


def test_without_history_the_first_weeks_averages_are_unknown_not_zero() -> None:
    weeks = ["2027-07-01", "2027-07-08", "2027-07-15", "2027-07-22", "2027-07-29"]
    rows = [("R1", w, 70.0, a, 80.0) for w, a in zip(weeks, [17.5, 35.0, 52.5, 70.0, 72.0], strict=True)]
    rows += [("R2", w, 90.0, a, 80.0) for w, a in zip(weeks, [22.5, 45.0, 67.5, 90.0, 90.0], strict=True)]
    weekly = _weekly(rows)
    data = minimal(weekly_hours=weekly)
    data.summary.update({"history_given": False, "period_start": "2027-07-01"})
    partial = partial_averages(weekly, data.summary, 28)
    assert list(partial) == [True, True, True, False, False] * 2  # windows ending in the first 3 weeks
    assert not partial_averages(weekly, data.summary, None).any()  # block averaging: no window reaches before
    assert not partial_averages(weekly, {**data.summary, "history_given": True}, 28).any()

    page = render_report(data)
    traces, _ = plot_json(page, PLOT_IDS["hours"])
    week, average, unknown = [t for t in traces if t["type"] == "heatmap"]
    assert average["z"] == [[None, None, None, 0.875, 0.9], [None, None, None, 1.125, 1.125]]
    assert unknown["z"] == [[1, 1, 1, None, None], [1, 1, 1, None, None]]
    assert unknown["colorscale"][0][1] == unknown["colorscale"][1][1] != average["colorscale"][0][1]
    assert "history before the block unknown" in unknown["customdata"][0][0][3]
    assert week["z"][0] == [0.875] * 5  # the weeks' own totals are known
    per_person, _ = plot_json(page, PLOT_IDS["hours_per_resident"])
    (diamonds,) = [t for t in per_person if t["name"] == "highest 4-week average"]
    assert diamonds["y"] == [72.0, 90.0]  # complete windows only
    assert "4-week averages not known (history before the block unknown)" in page

    shorter = minimal(weekly_hours=_weekly(rows[:2]))  # a two-week period: no complete window at all
    shorter.summary.update({"history_given": False, "period_start": "2027-07-01"})
    per_person, _ = plot_json(render_report(shorter), PLOT_IDS["hours_per_resident"])
    bar = [t for t in per_person if t["type"] == "bar"][0]
    assert bar["customdata"][0][2] == "not known (no complete 4-week window)"
    with_history = render_report(minimal(weekly_hours=weekly))
    traces, _ = plot_json(with_history, PLOT_IDS["hours"])
    assert len([t for t in traces if t["type"] == "heatmap"]) == 2  # nothing unknown: no grey layer


def test_printed_findings_keep_their_header_and_dates_on_one_line() -> None:
    findings = pd.DataFrame([finding(), finding(person="R02", date="2027-07-08")])
    page = render_report(minimal(findings=findings))
    table = page[page.index('id="findings-table"') :]
    assert '<td class="date">2027-07-01</td>' in table and '<td class="date">2027-07-28</td>' in table
    css = page[page.index("<style>") : page.index("</style>")]
    assert "td.date{white-space:nowrap}" in css
    printed = css[css.index("@media print") :]
    assert "thead{display:table-header-group}" in printed
    assert re.search(r"thead th[^{]*\{[^}]*position:static", printed)


def test_days_without_spare_name_their_requirements_cut_in_words_whole_in_the_data() -> None:
    dates = [f"2027-07-0{d}" for d in range(1, 8)]
    coverage = pd.DataFrame(
        [{"date": d, "shift_id": s, "min": 1, "assigned": 1} for d in dates for s in ("A", "B", "C", "D")]
    )
    page = render_report(minimal(coverage=coverage))
    assert glance(page)["days_without_spare"] == dates
    found = re.search(r'data-glance="days_without_spare"[^>]* data-requirements="([^"]*)"', page)
    assert found is not None
    assert json.loads(html.unescape(found.group(1))) == {d: ["A", "B", "C", "D"] for d in dates}
    words = re.search(r'data-glance="days_without_spare"[^>]*>(.*?)</span>', page)
    assert words is not None
    text = re.sub(r"<[^>]+>", "", words.group(1))
    assert text.startswith("7: 2027-07-01 (A, B, C, +1 more), 2027-07-02 (A, B, C, +1 more)")
    assert text.endswith("2027-07-05 (A, B, C, +1 more) … and 2 more")
    assert '<time class="day">2027-07-01</time> (A, B, C' in page  # a date is never broken across lines
    assert ".glance-value .day{white-space:nowrap}" in page
