"""The validation report (report.html): sections, escaping, badges, band colours, self-containment."""

from __future__ import annotations

import datetime as dt
import json
import re
import runpy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from rotaflow.validations.bundle import Bundle, parse_bundle
from rotaflow.validations.report import (
    BAND_COLOURS,
    BURNOUT_COLOURS,
    FINDING_COLUMNS,
    PLOT_IDS,
    ReportData,
    example_data,
    passed,
    render_report,
    utilisation_band,
)
from rotaflow.validations.report.common import _fmt as fmt
from rotaflow.validations.report.common import _num as num
from rotaflow.validations.report.common import _sorted_ids as sorted_ids
from rotaflow.validations.report.sections import _num_date as num_date
from rotaflow.validations.report.sections import _safe_href as safe_href

HOSTILE = "<script>alert(1)</script>"
HOSTILE_ATTR = '"><img src=x onerror=alert(2)>'


def finding(rule: str = "acgme_weekly_hours", severity: str = "violation", person: str = "R01", **extra: Any) -> dict:
    row = {
        "rule": rule,
        "severity": severity,
        "person_id": person,
        "window_start": "2027-07-01",
        "window_end": "2027-07-28",
        "value": 83.5,
        "limit": 80.0,
        "unit": "hours_per_week",
        "message": "The 4-week average is 83.5 hours per week.",
    }
    row.update(extra)
    return row


def minimal(**changes: Any) -> ReportData:
    """Summary, findings and assignments only: every optional section is None."""
    data = ReportData(
        summary={"run_id": "run-1", "program": "Tiny", "block_id": "2027-B01", "status": "optimal"},
        findings=pd.DataFrame(columns=list(FINDING_COLUMNS)),
        assignments=pd.DataFrame(
            {
                "person_id": ["R01", "R02", "R01"],
                "date": ["2027-07-01", "2027-07-01", "2027-07-02"],
                "shift_id": ["DAY", "NIGHT", "DAY"],
                "hours": [12.0, 12.0, 12.0],
            }
        ),
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def plot_json(page: str, div_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The data and layout plotly receives for one figure (parsed back from the page)."""
    start = page.index(f'Plotly.newPlot(                        "{div_id}",')
    decoder = json.JSONDecoder()
    rest = page[start:].split(",", 1)[1].lstrip()
    traces, used = decoder.raw_decode(rest)
    layout, _ = decoder.raw_decode(rest[used:].lstrip(", "))
    return traces, layout


@pytest.fixture(scope="module")
def example_page() -> str:
    return render_report(example_data(residents=12, days=28))


# --------------------------------------------------------------------------- whole page


def test_full_report_has_every_section_and_plot(example_page: str) -> None:
    assert example_page.startswith("<!doctype html>")
    assert example_page.rstrip().endswith("</html>")
    for anchor in ("summary", "coverage", "hours", "utilisation", "contingency", "burnout", "findings", "schedule"):
        assert f'<section id="{anchor}"' in example_page
    for anchor in ("rules", "links"):
        assert f'<section id="{anchor}"' in example_page
    for div_id in PLOT_IDS.values():
        assert example_page.count(f'id="{div_id}"') == 1
        assert f'Plotly.newPlot(                        "{div_id}"' in example_page
        assert f'id="{div_id}-caption"' in example_page  # every plot has a caption
    assert example_page.count("<figure") == 6
    assert example_page.count('role="img" aria-label="') == 6
    assert "Not available for this run" not in example_page


def test_plotly_js_is_inline_exactly_once_and_nothing_loads_from_the_network(example_page: str) -> None:
    plotly_js = get_plotlyjs()
    assert example_page.count(plotly_js[:300]) == 1
    assert len(example_page) > len(plotly_js)
    assert not re.search(r"<script[^>]*\bsrc\s*=", example_page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", example_page, re.IGNORECASE)
    assert "cdn.plot.ly" not in example_page.replace(get_plotlyjs(), "")  # (plotly.js itself names it)
    assert "@import" not in example_page


def test_rendering_is_deterministic() -> None:
    data = example_data(residents=6, days=14, seed=3)
    assert render_report(data) == render_report(data)
    assert render_report(example_data(6, 14, seed=3)) == render_report(data)


def test_print_css_and_accessibility_landmarks(example_page: str) -> None:
    assert "@media print" in example_page
    assert '<html lang="en">' in example_page
    assert "<h1>" in example_page
    assert example_page.count("<h2 ") >= 8
    assert '<nav class="toc" aria-label="contents">' in example_page
    assert "<noscript>" in example_page


def test_optional_sections_are_omitted_with_a_note_and_without_plotly() -> None:
    page = render_report(minimal())
    for div_id in PLOT_IDS.values():
        assert f'id="{div_id}"' not in page
    assert page.count("Not available for this run") == 5
    assert "no coverage data" in page and "no burnout-risk data" in page
    assert "Plotly.newPlot" not in page
    assert get_plotlyjs()[:300] not in page  # no figure, no 4.5 MB of JavaScript
    assert len(page) < 50_000
    assert '<section id="links"' not in page
    assert "No findings: every rule holds." in page
    assert "No rule list was given." in page


def test_plotly_js_goes_with_the_first_present_figure_only() -> None:
    full = example_data(residents=5, days=14)
    page = render_report(minimal(utilisation=full.utilisation, burnout=full.burnout))
    plotly_js = get_plotlyjs()[:300]
    assert page.count(plotly_js) == 1
    assert page.index(plotly_js) < page.index('id="plot-utilisation"') < page.index('id="plot-burnout"')
    assert 'id="plot-coverage"' not in page
    assert page.count("Not available for this run") == 3


def test_empty_frames_get_a_note() -> None:
    page = render_report(minimal(coverage=pd.DataFrame(columns=["date", "shift_id", "min", "assigned"])))
    assert "No coverage rows for this run." in page
    assert 'id="plot-coverage"' not in page


# --------------------------------------------------------------------------- status badge


def test_pass_badge_for_a_clean_run() -> None:
    data = minimal(findings=pd.DataFrame([finding(severity="warning")]))
    data.summary["warnings"] = 1
    page = render_report(data)
    assert passed(data)
    assert (
        'class="badge badge-pass"' in page and "badge-fail" not in page.split("<style>")[0] + page.split("</style>")[1]
    )
    assert "no hard violations, 1 warning (status optimal)" in page


def test_fail_badge_for_a_violation_even_when_the_summary_count_is_missing() -> None:
    data = minimal(findings=pd.DataFrame([finding()]))
    page = render_report(data)
    assert not passed(data)
    assert '<span class="badge badge-fail" role="status">FAIL</span>' in page
    assert "1 hard violation, status optimal" in page


def test_fail_badge_for_infeasible_with_diagnosis() -> None:
    summary = {
        "program": "Tiny",
        "block_id": "B1",
        "status": "infeasible",
        "hard_violations": 0,
        "diagnosis": [{"rule": "coverage_min", "people": ["R01"], "dates": ["2027-07-03"]}, HOSTILE],
    }
    data = minimal(summary=summary, assignments=pd.DataFrame(columns=["person_id", "date", "shift_id"]))
    page = render_report(data)
    assert not passed(data)
    assert "badge-fail" in page and "status infeasible" in page
    assert "Why no schedule exists (diagnosis)" in page
    assert "coverage_min" in page and "2027-07-03" in page
    assert HOSTILE not in page
    assert "No assignments to show." in page


def test_summary_count_of_hard_violations_fails_the_run() -> None:
    data = minimal()
    data.summary["hard_violations"] = 2
    assert not passed(data)
    assert "2 hard violations" in render_report(data)


def test_nested_summary_values_are_tables_and_lists_not_raw_json() -> None:
    data = minimal()
    data.summary.update(
        {
            "counts": {"violation": 2, HOSTILE: 1},
            "utilisation_by_block": [{"block_id": "B1", "utilisation": 0.5}],
            "blocks": ["B1", "B2"],
            "x": [],
            "deep": {"a": {"b": {"c": [1, 2]}}},
        }
    )
    page = render_report(data)
    facts = page[page.index('id="schedule-facts"') :]
    assert "<caption>summary.json</caption>" not in page
    assert (
        "<th scope='row'>counts</th><td><table class=\"facts nested\"><tbody><tr><th scope='row'>violation</th>"
        in facts
    )
    assert "<thead><tr><th scope='col'>block_id</th><th scope='col'>utilisation</th></tr></thead>" in facts
    assert "<tbody><tr><td>B1</td><td>0.5</td></tr></tbody>" in facts
    assert "<th scope='row'>blocks</th><td>B1, B2</td>" in facts
    assert "<th scope='row'>x</th><td><span class=\"note\">none</span></td>" in facts
    assert "<details><summary>1 entries</summary><pre>{\n  &quot;c&quot;: [" in facts  # only the third level folds
    assert HOSTILE not in page


def test_run_table_holds_publication_backup_and_penalties() -> None:
    data = minimal()
    data.summary.update(
        {
            "objective": 412,
            "penalties": {"fairness_nights": 172, "coverage_target": 240},
            "published": True,
            "version": 3,
            "backup": {"backup_id": "quick-20270601", "tier": "quick", "verified": True, "location": "/x"},
            "validation": {"verdict": "passed"},
        }
    )
    page = render_report(data)
    run = page[page.index('<table class="facts" id="run-table">') : page.index("<!--/rotaflow:run-->")]
    assert "<caption>The run</caption>" in run
    assert "<th scope='row'>published</th><td>yes, as version 3</td>" in run
    assert "<code>quick-20270601</code> · tier quick · verified true" in run
    penalties = run[run.index("penalties (soft rules)") :]
    assert penalties.index("coverage_target") < penalties.index("fairness_nights")  # the heaviest first
    assert "<td class='num'>240</td>" in penalties
    assert "&quot;verdict&quot;" not in page and "<th scope='row'>validation</th>" not in page
    unpublished = render_report(minimal())
    assert "not yet (the run had not reached publishing" in unpublished and "not backed up" in unpublished
    failed = minimal()
    failed.summary.update({"published": False, "backup": {"error": "disk full"}})
    page = render_report(failed)
    assert "<th scope='row'>published</th><td>no</td>" in page and "failed: disk full" in page


def test_key_numbers_include_gap_and_solve_time() -> None:
    data = minimal()
    data.summary.update({"objective": 100.0, "best_bound": 90.0, "solve_seconds": 12.345})
    page = render_report(data)
    assert "optimality gap" in page and "10.0 %" in page
    assert "12.3 s" in page
    assert "people scheduled" in page and "hours scheduled" in page  # roles unknown: people, not residents


# --------------------------------------------------------------------------- escaping and personal data


def hostile_data() -> ReportData:
    base = example_data(residents=4, days=7)
    people = {"R001": HOSTILE, "R002": HOSTILE_ATTR}

    def rename(frame: pd.DataFrame | None) -> pd.DataFrame:
        assert frame is not None
        frame = frame.copy()
        if "person_id" in frame:
            frame["person_id"] = frame["person_id"].replace(people)
        if "shift_id" in frame:
            frame["shift_id"] = frame["shift_id"].replace({"NIGHT": "<b>NIGHT</b>"})
        return frame

    contingency = base.contingency.copy() if base.contingency is not None else pd.DataFrame()
    contingency["people"] = [tuple(people.get(p, p) for p in lost) for lost in contingency["people"]]
    contingency["first_uncovered_shift"] = contingency["first_uncovered_shift"].where(
        contingency["first_uncovered_shift"].isna(), HOSTILE
    )
    findings = rename(base.findings)
    findings.loc[len(findings)] = finding(rule=HOSTILE, person=HOSTILE, message=f"bad {HOSTILE_ATTR}", unit=HOSTILE)
    return ReportData(
        summary={**base.summary, "program": HOSTILE, "block_id": HOSTILE_ATTR, "note": HOSTILE},
        findings=findings,
        assignments=rename(base.assignments),
        coverage=rename(base.coverage),
        weekly_hours=rename(base.weekly_hours),
        utilisation=base.utilisation,
        contingency=contingency,
        burnout=rename(base.burnout),
        rules=[(HOSTILE, HOSTILE_ATTR)],
        links={HOSTILE: "javascript:alert(3)", "ok & fine": 'findings.csv?a=1&b="2"'},
    )


def test_hostile_ids_are_escaped_everywhere() -> None:
    page = render_report(hostile_data())
    body = page.replace(get_plotlyjs(), "")
    assert HOSTILE not in body
    assert "<img src=x" not in body
    assert "<b>NIGHT</b>" not in body
    assert "javascript:" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # shown, as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in body
    assert "(link withheld: not a relative address)" in body
    assert 'href="findings.csv?a=1&amp;b=&quot;2&quot;"' in body
    # the only <script> elements: plotly's config and plotly.js, the six figure calls, the table sorter, the
    # grid's data (JSON) and script
    assert len(re.findall(r"<script\b", body, re.IGNORECASE)) == 2 + 6 + 1 + 2


def test_hostile_ids_reach_plotly_escaped() -> None:
    page = render_report(hostile_data())
    traces, _ = plot_json(page, PLOT_IDS["hours"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in traces[0]["y"]
    assert '"&gt;&lt;img src=x onerror=alert(2)&gt;' in traces[0]["y"]  # plotly decodes &lt; &gt; &amp; only
    traces, _ = plot_json(page, PLOT_IDS["coverage"])
    assert "&lt;b&gt;NIGHT&lt;/b&gt;" in traces[0]["y"]
    traces, _ = plot_json(page, PLOT_IDS["contingency"])
    assert any("&lt;script&gt;" in str(text) for row in traces[1]["text"] for text in row)


def test_names_and_emails_are_never_rendered() -> None:
    base = example_data(residents=3, days=7)
    assignments = base.assignments.assign(name="Dr Jane Example", email="jane@example.org")
    burnout = (
        base.burnout.assign(name="Dr Jane Example", email="jane@example.org") if base.burnout is not None else None
    )
    data = ReportData(
        summary={**base.summary, "email": "jane@example.org"},
        findings=base.findings,
        assignments=assignments,
        burnout=burnout,
    )
    page = render_report(data)
    assert "jane@example.org" not in page
    assert "Jane" not in page


# --------------------------------------------------------------------------- findings, grid, rules, links


def test_findings_table_orders_by_severity_and_colours_badges() -> None:
    rows = [
        finding(severity="info", person="R03", message="info row"),
        finding(severity="warning", person="R02", rule="acgme_rest_between_shifts", message="warning row"),
        finding(severity="violation", person="R01", message="violation row"),
        finding(severity="strange", person="R04", message="odd row"),
    ]
    page = render_report(minimal(findings=pd.DataFrame(rows)))
    assert page.index("violation row") < page.index("warning row") < page.index("info row") < page.index("odd row")
    assert '<span class="sev sev-violation">violation</span>' in page
    assert '<span class="sev sev-warning">warning</span>' in page
    assert '<span class="sev sev-info">info</span>' in page
    assert '<span class="sev sev-other">strange</span>' in page
    assert '<tr class="row-violation">' in page and '<tr class="row-other">' in page
    assert "4 findings (click a column heading to sort)" in page
    assert 'data-v="83.5"' in page
    assert "findings per rule" in page
    assert 'id="findings-table"' in page and "button.sort" in page


def test_findings_without_severity_column_still_render() -> None:
    frame = pd.DataFrame([{"rule": "x", "message": "no severity here"}])
    page = render_report(minimal(findings=frame))
    assert "no severity here" in page and "findings per rule" not in page


def test_schedule_grid_spans_the_period_and_shows_role_and_pgy() -> None:
    assignments = pd.DataFrame(
        {
            "person_id": ["R2", "R10", "R2"],
            "date": [dt.date(2027, 7, 2), dt.date(2027, 7, 2), dt.date(2027, 7, 2)],
            "shift_id": ["DAY", "NIGHT", "CLINIC"],
            "role": ["resident", "resident", "resident"],
            "pgy": [1, 2, 1],
        }
    )
    data = minimal(assignments=assignments)
    data.summary.update({"period_start": "2027-07-01", "period_end": dt.date(2027, 7, 4)})
    page = render_report(data)
    grid = page[page.index('id="schedule-grid"') :]
    assert "2 people × 4 days" in grid
    assert grid.index(">R2<") < grid.index(">R10<")  # natural order
    assert "DAY CLINIC" in grid
    assert "<th scope='col'>PGY</th>" in grid
    assert "title='2027-07-04'" in grid and "title='2027-07-01'" in grid


def test_schedule_grid_falls_back_to_the_dates_present() -> None:
    assignments = pd.DataFrame({"person_id": ["R1"], "date": ["someday"], "shift_id": ["DAY"]})
    page = render_report(minimal(assignments=assignments))
    assert "1 people × 1 days" in page and "title='someday'" in page


def test_rules_list_marks_counts_and_falls_back_to_the_summary() -> None:
    findings = pd.DataFrame([finding(), finding(person="R02"), finding(rule="coverage_min", severity="warning")])
    page = render_report(minimal(findings=findings, rules=[("acgme_weekly_hours", "80 h/week"), ("other", "")]))
    assert "<code>acgme_weekly_hours</code>: 80 h/week" in page
    assert '<span class="sev sev-violation">2 violations</span>' in page
    assert "<li><code>other</code></li>" in page
    data = minimal()
    data.summary["rules"] = ["acgme_day_off_in_seven"]
    assert "<li><code>acgme_day_off_in_seven</code></li>" in render_report(data)


def test_links() -> None:
    page = render_report(minimal(links={"Data Docs": "gx/index.html", "ext": "https://example.org/x", "bad": "\x01"}))
    assert '<a href="gx/index.html" rel="noopener">Data Docs</a>' in page
    assert 'href="https://example.org/x"' in page
    assert page.count("link withheld") == 1
    assert safe_href("data:text/html,hi") is None
    assert safe_href("  ") is None
    assert safe_href("../findings.csv") == "../findings.csv"


# --------------------------------------------------------------------------- figures


def test_utilisation_bands_and_colours() -> None:
    assert [utilisation_band(v) for v in (0.0, 0.6999, 0.70, 0.7999, 0.80, 0.8999, 0.90, 0.95, 0.9501, 1.3)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "orange",
        "orange",
        "red",
        "red",
        "black",
        "black",
    ]
    utilisation = pd.DataFrame(
        {
            "date": ["2027-07-03", "2027-07-01", "2027-07-02", "2027-07-04", "2027-07-05"],
            "required_hours": [10.0, 20.0, 30.0, 40.0, 50.0],
            "available_hours": [100.0] * 5,
            "utilisation": [0.5, 0.75, 0.85, 0.92, 0.99],
            "band": [None, "YELLOW", "orange", "nonsense", "black"],  # missing / unknown bands are computed
        }
    )
    page = render_report(minimal(utilisation=utilisation))
    traces, layout = plot_json(page, PLOT_IDS["utilisation"])
    by_band = {t["name"]: t for t in traces}
    assert set(by_band) == set(BAND_COLOURS)
    for band, colour in BAND_COLOURS.items():
        assert by_band[band]["marker"]["color"] == colour
        assert len(by_band[band]["x"]) == 1
    assert by_band["red"]["x"] == ["2027-07-04"] and by_band["red"]["y"] == [92.0]
    assert layout["xaxis"]["categoryarray"] == [f"2027-07-0{i}" for i in range(1, 6)]  # days stay in date order
    assert sorted(s["y0"] for s in layout["shapes"]) == [70.0, 80.0, 90.0, 95.0]
    assert "peak 99 %" in page and "1 black" in page


def test_utilisation_without_band_column() -> None:
    utilisation = pd.DataFrame({"date": ["2027-07-01", "2027-07-02"], "utilisation": [0.1, 0.97]})
    traces, _ = plot_json(render_report(minimal(utilisation=utilisation)), PLOT_IDS["utilisation"])
    assert {t["name"] for t in traces} == {"green", "black"}


def test_coverage_states_and_duplicate_requirement_rows() -> None:
    coverage = pd.DataFrame(
        [
            {"date": "2027-07-01", "shift_id": "DAY", "min": 2, "max": 3, "target": 3, "assigned": 3, "met": True},
            {
                "date": "2027-07-01",
                "shift_id": "NIGHT",
                "min": 2,
                "max": 2,
                "target": None,
                "assigned": 1,
                "met": False,
            },
            {"date": "2027-07-02", "shift_id": "DAY", "min": 2, "max": 3, "target": 3, "assigned": 2, "met": True},
            {
                "date": "2027-07-02",
                "shift_id": "NIGHT",
                "min": 1,
                "max": 1,
                "target": None,
                "assigned": 2,
                "met": False,
            },
            # a second (faculty) row for the same cell: the worse state wins
            {
                "date": "2027-07-01",
                "shift_id": "DAY",
                "min": 1,
                "max": None,
                "target": None,
                "assigned": 0,
                "met": False,
            },
            # "met" false although the counts look fine (a filter failed upstream): shown as short
            {
                "date": "2027-07-03",
                "shift_id": "DAY",
                "min": 1,
                "max": None,
                "target": None,
                "assigned": 1,
                "met": False,
            },
        ]
    )
    page = render_report(minimal(coverage=coverage))
    traces, layout = plot_json(page, PLOT_IDS["coverage"])
    heatmap = traces[0]
    assert heatmap["y"] == ["DAY", "NIGHT"]
    assert heatmap["x"] == ["2027-07-01", "2027-07-02", "2027-07-03"]
    assert heatmap["z"] == [[0, 1, 0], [0, 3, None]]
    assert heatmap["text"][0][0] == "3/2+0/1"
    assert "assigned 0 · min 1" in heatmap["customdata"][0][0]
    assert "3 cells short of the minimum, 1 below target, 0 met, 1 over the maximum" in page
    assert "coverage cells short" in page


def test_large_coverage_drops_cell_labels() -> None:
    days = pd.date_range("2027-07-01", periods=300, freq="D")
    coverage = pd.DataFrame(
        [{"date": d, "shift_id": s, "min": 1, "assigned": 1} for d in days for s in ("A", "B", "C")]
    )
    traces, _ = plot_json(render_report(minimal(coverage=coverage)), PLOT_IDS["coverage"])
    assert "texttemplate" not in traces[0]
    assert traces[0]["x"][0] == "2027-07-01"


def test_hours_figure_shows_week_totals_averages_and_the_limit() -> None:
    weekly = pd.DataFrame(
        [
            {"person_id": "R1", "week_start": "2027-07-01", "hours": 96.0, "average_4w": 82.0, "limit": 80.0},
            {"person_id": "R1", "week_start": "2027-07-08", "hours": 60.0, "average_4w": None, "limit": None},
            {"person_id": "R2", "week_start": "2027-07-01", "hours": 50.0, "average_4w": 70.0, "limit": 60.0},
        ]
    )
    page = render_report(minimal(weekly_hours=weekly))
    traces, layout = plot_json(page, PLOT_IDS["hours"])
    heatmaps = [t for t in traces if t["type"] == "heatmap"]
    crosses = [t for t in traces if t["type"] == "scatter"]
    assert len(heatmaps) == 2 and len(crosses) == 2
    week, average = heatmaps
    assert week["z"] == [[1.2, 0.75], [0.833, None]]
    assert average["z"] == [[1.025, None], [1.167, None]]
    assert week["customdata"][1][0] == [50.0, 70.0, 60.0, "70.0 h"]
    assert week["customdata"][0][1] == [60.0, None, 80.0, "not known"]  # a missing limit is the ACGME 80 h
    assert crosses[0]["x"] == ["2027-07-01"] and crosses[0]["y"] == ["R1"]
    assert sorted(crosses[1]["y"]) == ["R1", "R2"]
    assert "1 resident-weeks whose own total exceeds it, 2 whose 4-week average exceeds it" in page


def test_contingency_matrix() -> None:
    contingency = pd.DataFrame(
        [
            {
                "people": ("R1",),
                "outcome": "uncovered",
                "repair_size": None,
                "first_uncovered_date": "2027-07-03",
                "first_uncovered_shift": "NIGHT",
                "settled_by": "solver",
            },
            {"people": ("R2",), "outcome": "covered", "repair_size": 0},
            {"people": ["R2", "R1"], "outcome": "covered", "repair_size": 4},
            {"people": "R3;R1", "outcome": "UNCOVERED", "repair_size": None},
            {"people": "R3;R2", "outcome": "covered", "repair_size": None},
            {"people": ("R3",), "outcome": "unknown", "repair_size": None},
            {"people": None, "outcome": "covered"},
        ]
    )
    page = render_report(minimal(contingency=contingency))
    traces, _ = plot_json(page, PLOT_IDS["contingency"])
    covered, lost, undecided = traces
    assert covered["x"] == covered["y"] == ["R1", "R2", "R3"]
    assert covered["z"] == [[None], [4.0, 0.0], [None, 0.0, None]]
    assert covered["customdata"][2][1] == "covered; the repair changes unknown assignments"
    assert covered["customdata"][1][0] == "covered; the repair changes 4 assignments"
    assert lost["name"] == "uncovered" and lost["colorscale"][0][1] == "#c62828"
    assert lost["z"] == [[1], [], [1]]
    assert lost["text"] == [
        ["CRITICAL: uncovered from 2027-07-03 NIGHT<br>settled by solver"],
        [],
        ["CRITICAL: uncovered from an unknown day"],
    ]
    assert undecided["name"] == "undecided" and undecided["z"] == [[], [], [None, None, 1]]
    assert undecided["text"][2][2] == "not decided (outcome unknown)"
    assert "3 single-loss (N-1) scenarios on the diagonal, 1 uncovered; 3 two-person (N-2) scenarios" in page
    assert "1 not decided" in page
    assert "N-1 / N-2 uncovered" in page and "1 / 1" in page


def test_contingency_all_covered_has_no_red_layer() -> None:
    contingency = pd.DataFrame([{"people": ("R1", "R2"), "outcome": "covered", "repair_size": 2}])
    traces, _ = plot_json(render_report(minimal(contingency=contingency)), PLOT_IDS["contingency"])
    assert len(traces) == 1


def test_burnout_is_labelled_advisory_and_coloured_by_band() -> None:
    burnout = pd.DataFrame(
        {
            "person_id": ["R1", "R2", "R3", "R4"],
            "score": [10.0, 55.0, 91.0, 70.0],
            "band": ["low", "moderate", "very_high", "High"],
            "hours_component": [1.0, 2.0, 3.0, 4.0],
            "note": ["a", "b", "c", "d"],  # not numeric: not a component
        }
    )
    page = render_report(minimal(burnout=burnout))
    assert "Advisory — not a validated clinical instrument." in page
    traces, layout = plot_json(page, PLOT_IDS["burnout"])
    assert layout["title"]["text"] == "advisory — not a validated clinical instrument"
    by_band = {t["name"]: t for t in traces}
    assert set(by_band) == {"low", "moderate", "high", "very high"}
    assert by_band["very high"]["marker"]["color"] == BURNOUT_COLOURS["very_high"]
    assert by_band["high"]["x"] == ["R4"]
    assert layout["xaxis"]["categoryarray"] == ["R3", "R4", "R2", "R1"]  # highest score first
    assert "hours_component: 3" in by_band["very high"]["customdata"][0]
    assert "note" not in by_band["low"]["customdata"][0]
    assert "high/very high burnout risk (advisory)" in page


# --------------------------------------------------------------------------- helpers


def test_format_helpers() -> None:
    assert fmt(None) == "" and fmt(float("nan")) == ""
    assert fmt(True) == "true" and fmt(3) == "3" and fmt(2.0) == "2" and fmt(2.345) == "2.35"
    assert fmt(dt.date(2027, 7, 1)) == "2027-07-01"
    assert fmt(pd.Timestamp("2027-07-01T07:00")) == "2027-07-01T07:00:00"
    assert fmt(pd.Timestamp("2027-07-01")) == "2027-07-01"  # a datetime64 date column
    assert fmt(dt.datetime(2027, 7, 1, tzinfo=dt.UTC)) == "2027-07-01T00:00:00+00:00"
    assert fmt({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert fmt(pd.NA) == "" and fmt([None]) == "[null]" and fmt(("a", 1)) == '["a", 1]'
    assert num("abc") is None and num(float("inf")) is None and num(True) is None and num("2.5") == 2.5
    assert num_date(None) is None and num_date("garbage") is None
    assert num_date(dt.datetime(2027, 7, 1, 7)) == dt.date(2027, 7, 1)
    assert sorted_ids(["R10", "R2", "a", "R1b", None, "10"]) == ["10", "R1b", "R2", "R10", "a"]


def test_example_data_scales() -> None:
    data = example_data(residents=36, days=14)
    assert data.assignments["person_id"].nunique() == 36
    assert data.contingency is not None and len(data.contingency) == 36 * 37 // 2
    assert data.weekly_hours is not None and set(data.weekly_hours["week_start"]) == {"2027-07-01", "2027-07-08"}


def test_the_preview_writes_the_example_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "preview.html"
    monkeypatch.setattr("sys.argv", ["rotaflow.validations.report", str(target), "3", "7"])
    runpy.run_module("rotaflow.validations.report", run_name="__main__")
    assert capsys.readouterr().out == f"{target}\n"
    assert target.read_text(encoding="utf-8") == render_report(example_data(3, 7))


# --------------------------------------------------------------------------- a validated program's report


def _program(folder: Path) -> Bundle:
    """A program whose DAY shift has three requirements (residents, faculty, faculty with a skill)."""
    from tests.unit.validations.test_acgme_validator import make_bundle

    make_bundle(folder, residents={f"R{n}": 2 for n in range(1, 9)}, faculty=("F1", "F2"))
    (folder / "coverage.csv").write_text(
        "shift_id,applies_on,rotation_id,role,min_pgy,skill,min,max,target\n"
        "DAY,daily,,resident,,,3,5,4\n"
        "DAY,daily,,faculty,,,1,2,\n"
        "DAY,daily,,faculty,,procedures,1,,\n"
        "NIGHT,daily,,resident,,,1,1,\n",
        encoding="utf-8",
    )
    return parse_bundle({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def _validated_page(tmp_path: Path, rows: list[tuple[str, str, str]]) -> str:
    from rotaflow.services.validate import validate, write_validation
    from rotaflow.validations.schedule import load_schedule

    bundle = _program(tmp_path / "program")
    frame = pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])
    first = dt.date(2027, 7, 1)
    validation = validate(bundle, load_schedule(bundle, frame), period=(first, first + dt.timedelta(days=1)))
    write_validation(tmp_path / "out", validation, bundle, data_docs=False)
    return (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def _cells(page: str) -> dict[tuple[str, str], tuple[str, int | None]]:
    (heatmap,), _ = plot_json(page, PLOT_IDS["coverage"])
    return {
        (y, x): (heatmap["text"][i][j], heatmap["z"][i][j])
        for i, y in enumerate(heatmap["y"])
        for j, x in enumerate(heatmap["x"])
    }


def test_each_coverage_cell_is_one_requirement_labelled_and_coloured_from_its_own_numbers(tmp_path: Path) -> None:
    """Six residents and two faculty on DAY of 07-01 (no faculty with the skill): each requirement its own cell."""
    rows = [(f"R{n}", "2027-07-01", "DAY") for n in range(1, 7)] + [("F1", "2027-07-01", "DAY")]
    rows += [("F2", "2027-07-01", "DAY"), ("R7", "2027-07-01", "NIGHT"), ("R8", "2027-07-01", "NIGHT")]
    rows += [("R1", "2027-07-02", "NIGHT")] + [(f"R{n}", "2027-07-02", "DAY") for n in range(3, 7)]
    rows += [("F1", "2027-07-02", "DAY")]
    cells = _cells(_validated_page(tmp_path, rows))
    assert cells == {
        ("DAY · residents", "2027-07-01"): ("6/3", 3),  # over its maximum of 5
        ("DAY · faculty", "2027-07-01"): ("2/1", 2),
        ("DAY · faculty with skill procedures", "2027-07-01"): ("0/1", 0),
        ("NIGHT", "2027-07-01"): ("2/1", 3),
        ("DAY · residents", "2027-07-02"): ("4/3", 2),  # its target of 4 met
        ("DAY · faculty", "2027-07-02"): ("1/1", 2),
        ("DAY · faculty with skill procedures", "2027-07-02"): ("0/1", 0),
        ("NIGHT", "2027-07-02"): ("1/1", 2),
    }
    for label, state in cells.values():  # the label and the colour say the same thing
        assigned, minimum = (int(n) for n in label.split("/"))
        assert (state == 0) == (assigned < minimum)


def test_residents_scheduled_counts_residents_only(tmp_path: Path) -> None:
    rows = [("R1", "2027-07-01", "DAY"), ("R2", "2027-07-01", "DAY"), ("F1", "2027-07-01", "DAY")]
    rows += [("F2", "2027-07-02", "DAY"), ("R1", "2027-07-02", "DAY")]
    page = _validated_page(tmp_path, rows)
    assert _card(page, "residents scheduled") == "2"
    assert _card(page, "assignments") == "5"


def test_people_scheduled_when_roles_are_unknown() -> None:
    page = render_report(minimal())  # the assignments carry no role
    assert _card(page, "people scheduled") == "2"
    assert "residents scheduled" not in page


def _card(page: str, label: str) -> str | None:
    found = re.search(
        r'<div class="card-value">([^<]*)</div><div class="card-label">' + re.escape(label) + "</div>", page
    )
    return found.group(1) if found else None


def test_n2_that_did_not_run_says_so() -> None:
    contingency = pd.DataFrame(
        [
            {"people": ("R1",), "order": 1, "outcome": "uncovered", "repair_size": None},
            {"people": ("R2",), "order": 1, "outcome": "covered", "repair_size": 0},
        ]
    )
    page = render_report(minimal(contingency=contingency))
    assert _card(page, "N-1 uncovered") == "1"
    assert _card(page, "N-2") == "not run"
    assert "N-1 / N-2 uncovered" not in page
    assert "N-2 (losing any two people) was not run for this report" in page
    assert "0 two-person (N-2) scenarios" not in page
