"""report.html in a real browser: every plot is drawn, nothing errors, nothing loads from the network.

Renders a report from realistic frames (12 residents x 28 days, built here from a rotating shift
pattern) into headless Chromium via Playwright, checks that each figure holds a drawn plotly SVG with
the expected marks, and saves a full-page screenshot to var/screenshots/report.png and tmp_path.
Skipped when /usr/bin/chromium or Playwright is missing, unless ROTAFLOW_TEST_REQUIRE_BROWSER=1
(the session's Chromium: tests/browser/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rotaflow.validations.report import FINDING_COLUMNS, PLOT_IDS, ReportData, render_report

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "var" / "screenshots" / "report.png"

RESIDENTS = [f"R{i:02d}" for i in range(1, 13)]
START = dt.date(2027, 7, 1)
DAYS = 28
HOURS = {"DAY": 12.0, "NIGHT": 12.0, "CLINIC": 9.0}
NEEDS = {"DAY": (3, 4, 4), "NIGHT": (2, 2, None), "CLINIC": (1, 2, 2)}  # min, max, target
PATTERN = ("DAY", "DAY", "NIGHT", None, "CLINIC", None)  # a six-day rotation, staggered per resident
LOST = {"R03", "R07"}  # losing both leaves nights uncovered


def _band(value: float) -> str:
    if value < 0.70:
        return "green"
    if value < 0.80:
        return "yellow"
    if value < 0.90:
        return "orange"
    return "red" if value <= 0.95 else "black"


def realistic_data() -> ReportData:
    dates = [START + dt.timedelta(days=d) for d in range(DAYS)]
    rows = []
    for d, day in enumerate(dates):
        for i, person in enumerate(RESIDENTS):
            shift = PATTERN[(i + d) % len(PATTERN)]
            if person == "R01" and 7 <= d < 14 and shift is None:
                shift = "DAY"  # an overloaded week: over the DAY maximum and over 80 hours
            if person == "R05" and d == 10 and shift == "NIGHT":
                shift = None  # a sick call: the night is short
            if shift:
                rows.append({"person_id": person, "date": day, "shift_id": shift, "hours": HOURS[shift]})
    assignments = pd.DataFrame(rows)
    assignments["role"] = "resident"
    assignments["pgy"] = assignments["person_id"].map({p: 1 + i % 3 for i, p in enumerate(RESIDENTS)})

    counts = assignments.groupby(["date", "shift_id"]).size()
    coverage = pd.DataFrame(
        [
            {
                "date": day,
                "shift_id": shift,
                "min": low,
                "max": high,
                "target": target,
                "assigned": int(counts.get((day, shift), 0)),
                "met": low <= int(counts.get((day, shift), 0)) <= high,
            }
            for day in dates
            for shift, (low, high, target) in NEEDS.items()
        ]
    )

    assignments["week"] = [(day - START).days // 7 for day in assignments["date"]]
    totals = assignments.groupby(["person_id", "week"])["hours"].sum()
    weekly_rows = []
    for person in RESIDENTS:
        series = [float(totals.get((person, w), 0.0)) for w in range(DAYS // 7)]
        for w, hours in enumerate(series):
            window = series[max(0, w - 3) : w + 1]
            weekly_rows.append(
                {
                    "person_id": person,
                    "week_start": START + dt.timedelta(days=7 * w),
                    "hours": hours,
                    "average_4w": sum(window) / len(window),
                    "limit": 80.0,
                }
            )
    weekly = pd.DataFrame(weekly_rows)
    assignments = assignments.drop(columns="week")

    required = sum(low * HOURS[s] for s, (low, _, _) in NEEDS.items())  # 69 h a day
    utilisation = pd.DataFrame(
        [
            {
                "date": day,
                "required_hours": required,
                "available_hours": available,
                "utilisation": required / available,
                "band": _band(required / available),
            }
            for d, day in enumerate(dates)
            for available in [70.0 if d == 20 else 104.0 - 2.0 * (d % 14)]
        ]
    )

    scenarios: list[dict[str, Any]] = []
    for i, person in enumerate(RESIDENTS):
        uncovered = person == "R05"
        scenarios.append(
            {
                "people": (person,),
                "outcome": "uncovered" if uncovered else "covered",
                "repair_size": None if uncovered else i % 4,
                "first_uncovered_date": START + dt.timedelta(days=2) if uncovered else None,
                "first_uncovered_shift": "NIGHT" if uncovered else None,
            }
        )
    for (i, a), (j, b) in combinations(enumerate(RESIDENTS), 2):
        uncovered = {a, b} == LOST or "R05" in (a, b)
        scenarios.append(
            {
                "people": (a, b),
                "outcome": "uncovered" if uncovered else "covered",
                "repair_size": None if uncovered else (i * j) % 9,
                "first_uncovered_date": START + dt.timedelta(days=3) if uncovered else None,
                "first_uncovered_shift": "NIGHT" if uncovered else None,
            }
        )
    contingency = pd.DataFrame(scenarios)

    nights = assignments[assignments["shift_id"] == "NIGHT"].groupby("person_id").size()
    average = weekly.groupby("person_id")["hours"].mean()
    burnout_rows = []
    for person in RESIDENTS:
        hours_part = max(0.0, float(average[person]) - 30.0)
        night_part = 3.0 * float(nights.get(person, 0))
        score = min(100.0, hours_part + night_part)
        band = "low" if score < 40 else "moderate" if score < 60 else "high" if score < 80 else "very_high"
        burnout_rows.append(
            {"person_id": person, "score": score, "band": band, "hours": hours_part, "nights": night_part}
        )
    burnout = pd.DataFrame(burnout_rows)

    findings = []
    for row in coverage.itertuples():
        if not row.met:
            short = row.assigned < row.min
            findings.append(
                {
                    "rule": "coverage_min" if short else "coverage_max",
                    "severity": "violation",
                    "person_id": "",
                    "window_start": row.date,
                    "window_end": row.date,
                    "value": float(row.assigned),
                    "limit": float(row.min if short else row.max),
                    "unit": "people",
                    "message": f"{row.shift_id} on {row.date} has {row.assigned} people.",
                }
            )
    for row in weekly.itertuples():
        if row.hours > row.limit:
            findings.append(
                {
                    "rule": "acgme_weekly_hours",
                    "severity": "warning",
                    "person_id": row.person_id,
                    "window_start": row.week_start,
                    "window_end": row.week_start + dt.timedelta(days=6),
                    "value": row.hours,
                    "limit": row.limit,
                    "unit": "hours",
                    "message": f"This week alone has {row.hours:.0f} hours.",
                }
            )
    findings_frame = pd.DataFrame(findings, columns=list(FINDING_COLUMNS))
    return ReportData(
        summary={
            "run_id": "browser-test",
            "program": "Browser Test Family Medicine",
            "block_id": "2027-B01",
            "status": "feasible",
            "objective": 118.0,
            "best_bound": 112.0,
            "solve_seconds": 9.4,
            "hard_violations": int((findings_frame["severity"] == "violation").sum()),
            "warnings": int((findings_frame["severity"] == "warning").sum()),
            "timezone": "Pacific/Honolulu",
            "period_start": dates[0],
            "period_end": dates[-1],
        },
        findings=findings_frame,
        assignments=assignments,
        coverage=coverage,
        weekly_hours=weekly,
        utilisation=utilisation,
        contingency=contingency,
        burnout=burnout,
        rules=[
            ("acgme_weekly_hours", "80 hours per week averaged over 4 weeks"),
            ("coverage_min", "every shift has its minimum head-count"),
            ("coverage_max", "no shift exceeds its maximum head-count"),
        ],
        links={"findings.csv": "findings.csv", "Data Docs": "gx/index.html"},
    )


def open_report(browser: Any, page_html: str, folder: Path) -> tuple[Any, list[str], list[str]]:
    """Load the page from a file; collect page errors, console errors and every non-local request."""
    path = folder / "report.html"
    path.write_text(page_html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    remote: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on(
        "request", lambda request: None if request.url.startswith(("file:", "data:")) else remote.append(request.url)
    )
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, remote


MARKS_JS = """ids => ids.map(id => {
  const div = document.getElementById(id);
  if (!div) return {id, missing: true};
  const svg = div.querySelector('svg.main-svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const images = [...div.querySelectorAll('g.hm image')];
  return {
    id,
    drawn: !!div._fullLayout && !!svg,
    width: box.width,
    height: box.height,
    heatmaps: div.querySelectorAll('g.hm').length,
    painted: images.filter(i => (i.getAttribute('href') || i.getAttribute('xlink:href') || '')
                                  .startsWith('data:image/png')).length,
    bars: div.querySelectorAll('g.trace.bars g.point path').length,
    markers: div.querySelectorAll('g.trace.scatter path.point').length,
  };
})"""


def test_report_plots_render_in_chromium(browser: Any, tmp_path: Path) -> None:
    data = realistic_data()
    page, errors, remote = open_report(browser, render_report(data), tmp_path)
    ids = list(PLOT_IDS.values())
    page.wait_for_function(
        "ids => ids.every(id => { const d = document.getElementById(id);"
        " return d && d._fullLayout && d.querySelector('svg.main-svg'); })",
        arg=ids,
        timeout=15_000,
    )
    marks = {m["id"]: m for m in page.evaluate(MARKS_JS, ids)}
    for found in marks.values():
        assert found.get("drawn"), found
        assert found["width"] > 100 and found["height"] > 100, found

    coverage, hours, usage = marks["plot-coverage"], marks["plot-hours"], marks["plot-utilisation"]
    contingency, burnout = marks["plot-contingency"], marks["plot-burnout"]
    assert coverage["heatmaps"] == 1 and coverage["painted"] == 1
    assert hours["heatmaps"] == 2 and hours["painted"] == 2  # the week's own total and the 4-week average
    assert hours["markers"] >= 1  # R01's overloaded week is crossed out
    assert usage["bars"] == DAYS  # one bar per day
    assert contingency["heatmaps"] == 2 and contingency["painted"] == 2  # covered shades + uncovered layer
    assert burnout["bars"] == len(RESIDENTS)

    # the figures are interactive: hovering a coverage cell shows its numbers
    target = page.locator("#plot-coverage .nsewdrag").first
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    page.wait_for_function(
        "() => (document.querySelector('#plot-coverage .hoverlayer') || {}).textContent.includes('assigned')",
        timeout=5_000,
    )

    # the findings table sorts by a column
    page.locator("#findings-table button.sort", has_text="value").click()
    values = page.eval_on_selector_all(
        "#findings-table tbody tr", "rows => rows.map(r => parseFloat(r.cells[5].dataset.v))"
    )
    assert values == sorted(values) and len(values) == len(data.findings)

    # status and the schedule grid made it too
    assert page.locator(".badge-fail").inner_text() == "FAIL"
    assert page.locator("#schedule-grid tbody tr").count() == len(RESIDENTS)

    assert errors == []
    assert remote == []  # self-contained: nothing fetched from the network

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000
    assert (tmp_path / "report.png").stat().st_size > 50_000
    page.close()


def test_hostile_ids_do_not_execute(browser: Any, tmp_path: Path) -> None:
    data = realistic_data()
    hostile = {"R01": '<img src=x onerror="window.__pwned=1">', "R02": "<script>window.__pwned=2</script>"}
    for frame in (data.assignments, data.weekly_hours, data.burnout, data.findings):
        assert frame is not None
        frame["person_id"] = frame["person_id"].replace(hostile)
    assert data.contingency is not None
    data.contingency["people"] = [tuple(hostile.get(p, p) for p in lost) for lost in data.contingency["people"]]
    data.summary["program"] = '<svg onload="window.__pwned=3">'
    data.links["bad"] = "javascript:window.__pwned=4"
    page, errors, remote = open_report(browser, render_report(data), tmp_path)
    page.wait_for_function(
        "ids => ids.every(id => document.querySelector('#' + id + ' svg.main-svg'))",
        arg=list(PLOT_IDS.values()),
        timeout=15_000,
    )
    page.mouse.move(300, 300)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    # the hostile id is shown as text, in the grid and on the plot axes
    assert page.locator("#schedule-grid th.who", has_text="<img src=x").count() == 1
    tick_text = page.eval_on_selector_all("#plot-hours .ytick text", "ticks => ticks.map(t => t.textContent)")
    assert '<img src=x onerror="window.__pwned=1">' in tick_text
    assert errors == []
    assert remote == []
    page.close()
