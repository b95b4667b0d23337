"""report.html's "At a glance", its figures, the publication patch, hours per resident, N-1 and history."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rotaflow.validations.report import PLOT_IDS, example_data, render_report
from rotaflow.validations.report.glance import (
    GLANCE_NAMES,
    days_without_spare,
    glance_facts,
    patch_publication,
    refresh_publication,
    single_week_over_limit,
    spare_gaps,
)
from tests.unit.validations.test_report import HOSTILE, HOSTILE_ATTR, minimal, plot_json


def glance(page: str) -> dict[str, Any]:
    """Each ``data-glance`` element's JSON value, parsed back from the page."""
    found = re.findall(r'data-glance="([a-z0-9_]+)" data-value="([^"]*)"', page)
    values = {name: json.loads(html.unescape(value)) for name, value in found}
    assert len(values) == len(found), "a glance figure appears twice"
    return values


def glance_text(page: str, name: str) -> str:
    match = re.search(rf'data-glance="{name}"[^>]*>(.*?)</span>', page)
    assert match is not None
    return re.sub(r"<[^>]+>", "", match.group(1))


# --------------------------------------------------------------------------- the figures


def test_single_week_over_limit_lists_each_resident_once_above_the_limit() -> None:
    weekly = pd.DataFrame(
        {
            "person_id": ["R10", "R2", "R2", "R3", "R4"],
            "hours": [80.5, 96.0, 81.0, 80.0, None],
        }
    )
    assert single_week_over_limit(weekly) == ["R2", "R10"]  # 80.0 is not above 80
    assert single_week_over_limit(weekly, 90.0) == ["R2"]
    assert single_week_over_limit(weekly.iloc[3:4]) == []  # analysed: no one above
    assert single_week_over_limit(None) is None and single_week_over_limit(weekly.iloc[0:0]) is None  # not known


def test_a_day_without_spare_has_any_requirement_at_its_minimum() -> None:
    coverage = pd.DataFrame(
        {
            "date": ["2027-07-01"] * 3 + ["2027-07-02"] * 3 + ["2027-07-03"] * 2 + ["2027-07-04"] * 2,
            "shift_id": ["DAY", "NIGHT", "CLINIC"] * 2 + ["DAY", "NIGHT", "DAY", "CLINIC"],
            "min": [2, 1, 0, 3, 1, 0, 2, 1, 0, 0],
            "assigned": [2, 1, 3, 4, 1, 0, 1, 3, 0, 2],
        }
    )
    # 07-01: DAY and NIGHT at their minimum (CLINIC needs no one, its 3 are no spare for them);
    # 07-02: a spare on DAY, but NIGHT at its minimum: losing the night person leaves a gap;
    # 07-03: DAY short (no spare either), NIGHT with two spare; 07-04: nothing needed
    assert spare_gaps(coverage) == {"2027-07-01": ["DAY", "NIGHT"], "2027-07-02": ["NIGHT"], "2027-07-03": ["DAY"]}
    assert days_without_spare(coverage) == ["2027-07-01", "2027-07-02", "2027-07-03"]
    assert days_without_spare(None) is None and days_without_spare(coverage.drop(columns="min")) is None


def test_a_shift_with_several_requirements_names_each() -> None:
    coverage = pd.DataFrame(
        {
            "date": ["2027-07-01"] * 3,
            "shift_id": ["DAY", "DAY", "NIGHT"],
            "requirement": ["residents on INPT", "faculty", "residents"],
            "min": [2, 1, 1],
            "assigned": [3, 1, 1],
        }
    )
    assert spare_gaps(coverage) == {"2027-07-01": ["DAY · faculty", "NIGHT"]}


def test_glance_prefers_the_summary_and_falls_back_on_the_frames() -> None:
    data = example_data(residents=6, days=14)
    facts = glance_facts(data)  # the example's summary carries none of them: from its frames
    assert facts["published"] is None and facts["version"] is None and facts["backup_id"] is None
    assert facts["n1_critical"] == ["R001"]  # the example's one uncovered single loss
    assert facts["jeopardy_pool"] is None  # the frame alone cannot size the pool
    assert facts["single_week_over_limit"] == single_week_over_limit(data.weekly_hours)
    assert facts["days_without_spare"] == days_without_spare(data.coverage)
    data.summary.update(
        {
            "published": True,
            "version": 4,
            "backup": {"backup_id": "b-1"},
            "validation": {
                "contingency": {"critical": ["R9"], "jeopardy": {"members": ["R2", "R3"], "cross_cover": 1}},
                "single_week_over_limit": ["R7"],
                "days_without_spare": ["2027-07-09"],
            },
        }
    )
    assert glance_facts(data) == {
        "published": True,
        "version": 4,
        "backup_id": "b-1",
        "n1_critical": ["R9"],
        "jeopardy_pool": ["R2", "R3"],
        "single_week_over_limit": ["R7"],
        "days_without_spare": ["2027-07-09"],
    }


# --------------------------------------------------------------------------- the markup


def test_glance_section_comes_first_with_every_figure_marked() -> None:
    data = example_data(residents=12, days=28)
    data.summary["contingency"] = {
        "critical": ["R001"],
        "jeopardy": {"members": ["R002", "R003"], "cross_cover": 1, "size": 3},
    }
    page = render_report(data)
    assert page.index('<section id="glance"') < page.index('<nav class="toc"') < page.index('<section id="summary"')
    values = glance(page)
    assert set(values) == set(GLANCE_NAMES)
    assert values["n1_critical"] == ["R001"] and glance_text(page, "n1_critical") == "1: R001"
    assert values["jeopardy_pool"] == ["R002", "R003"]
    assert glance_text(page, "jeopardy_pool") == "3: R002, R003 + 1 cross-cover backup from outside the rotations"
    assert 'data-glance="jeopardy_pool" data-value="[&quot;R002&quot;, &quot;R003&quot;]" data-size="3"' in page
    over = values["single_week_over_limit"]
    assert over == single_week_over_limit(data.weekly_hours) and over
    assert glance_text(page, "single_week_over_limit").startswith(f"{len(over)}: {over[0]}")
    assert "allowed while the 4-week average holds" in page
    spare = values["days_without_spare"]
    assert spare == days_without_spare(data.coverage)
    assert glance_text(page, "days_without_spare").startswith(str(len(spare)))
    assert values["published"] is None and glance_text(page, "published") == "not published yet"
    assert values["backup_id"] is None and glance_text(page, "backup_id") == "not backed up"


def test_glance_without_contingency_or_coverage_says_so() -> None:
    page = render_report(minimal())
    values = glance(page)
    assert values["n1_critical"] is None and values["jeopardy_pool"] is None
    assert glance_text(page, "n1_critical").startswith("not analysed")
    assert values["days_without_spare"] is None and "no coverage data" in glance_text(page, "days_without_spare")
    assert values["single_week_over_limit"] is None  # no weekly hours: not known, not "0"
    assert glance_text(page, "single_week_over_limit") == "not known (no weekly hours were analysed)"
    styles = {
        label: css.strip() for css, label in re.findall(r'<div class="glance-item([^"]*)"><dt>([^<]*)</dt>', page)
    }
    assert styles["N-1 critical people"] == "glance-neutral" and styles["Jeopardy pool (backups)"] == "glance-neutral"
    assert styles["Residents above 80 h in a week"] == "glance-neutral"
    assert styles["Days without spare coverage"] == "glance-neutral"
    weekly = pd.DataFrame({"person_id": ["R1"], "week_start": ["2027-07-01"], "hours": [40.0]})
    known = render_report(minimal(weekly_hours=weekly))
    assert glance(known)["single_week_over_limit"] == [] and glance_text(known, "single_week_over_limit") == "0"
    assert '<div class="glance-item glance-ok"><dt>Residents above 80 h in a week</dt>' in known


def test_glance_lists_are_cut_in_words_but_whole_in_the_data() -> None:
    people = [f"R{i}" for i in range(100)]
    dates = [f"2027-07-{d:02d}" for d in range(1, 29)]
    data = minimal()
    data.summary.update({"single_week_over_limit": people, "days_without_spare": dates})
    page = render_report(data)
    assert glance(page)["single_week_over_limit"] == people
    assert glance_text(page, "single_week_over_limit").endswith("R39 … and 60 more")
    assert glance(page)["days_without_spare"] == dates
    assert glance_text(page, "days_without_spare").endswith("2027-07-10 … and 18 more")


def test_a_validation_of_a_schedule_file_is_not_pending_publication() -> None:
    data = minimal()
    del data.summary["run_id"]  # rotaflow validate: no generation run behind the schedule
    page = render_report(data)
    assert glance(page)["published"] is None
    assert glance_text(page, "published") == "not a generation run: validating a schedule publishes nothing"
    assert "a validation of a schedule file publishes nothing" in page and "not published yet" not in page


def test_glance_values_are_escaped() -> None:
    data = minimal()
    data.summary.update(
        {
            "contingency": {
                "critical": [HOSTILE],
                "jeopardy": {"members": [HOSTILE_ATTR], "cross_cover": 2, "cross_cover_shifts": [HOSTILE, "NIGHT"]},
            },
            "single_week_over_limit": [HOSTILE_ATTR],
            "backup": {"backup_id": HOSTILE},
            "published": True,
            "version": 2,
        }
    )
    page = render_report(data)
    section = page[page.index('<section id="glance"') : page.index('<nav class="toc"')]
    assert HOSTILE not in section and "<img" not in section
    values = glance(page)
    assert values["n1_critical"] == [HOSTILE] and values["jeopardy_pool"] == [HOSTILE_ATTR]
    assert glance_text(page, "jeopardy_pool").startswith("3: ")  # one stand-in and two cross-cover backups
    assert (
        "2 cross-cover backups from outside the rotations (for &lt;script&gt;alert(1)&lt;/script&gt;, NIGHT)" in section
    )
    assert values["backup_id"] == HOSTILE and values["version"] == 2 and values["published"] is True


# --------------------------------------------------------------------------- the publication patch


def test_patching_redraws_the_publication_and_the_run_table_only(tmp_path: Path) -> None:
    data = minimal()
    data.summary.update({"objective": 12})
    page = render_report(data)
    summary = {
        **data.summary,
        "published": True,
        "version": 7,
        "backup": {"backup_id": "quick-<1>", "tier": "quick"},
        "penalties": {"coverage_target": 12},
    }
    patched = patch_publication(page, summary)
    assert patched is not None
    values = glance(patched)
    assert (values["published"], values["version"], values["backup_id"]) == (True, 7, "quick-<1>")
    assert glance_text(patched, "version") == "version 7"
    assert "<code>quick-&lt;1&gt;</code>" in patched and "quick-<1>" not in patched.replace('"quick-<1>"', "")
    assert "yes, as version 7" in patched and "<td class='num'>12</td>" in patched
    before, after = page.split("<!--rotaflow:publication-->"), patched.split("<!--rotaflow:publication-->")
    assert before[0] == after[0]  # nothing before the publication part changed
    assert page[page.index("<!--/rotaflow:run-->") :] == patched[patched.index("<!--/rotaflow:run-->") :]
    assert patch_publication(patched, summary) == patched  # idempotent

    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    os.chmod(report, 0o644)
    assert refresh_publication(report, summary) is True
    assert report.read_text(encoding="utf-8") == patched
    assert report.stat().st_mode & 0o777 == 0o600
    unpublished = {**summary, "published": False, "backup": {"error": "the store is down"}}
    assert refresh_publication(report, unpublished) is True
    values = glance(report.read_text(encoding="utf-8"))
    assert (values["published"], values["version"], values["backup_id"]) == (False, None, None)
    assert "the backup failed" in report.read_text(encoding="utf-8")


def test_patching_is_a_no_op_without_exactly_one_of_each_part(tmp_path: Path) -> None:
    assert refresh_publication(tmp_path / "absent.html", {"published": True}) is False
    other = tmp_path / "other.html"
    other.write_text("<html>no markers</html>", encoding="utf-8")
    assert refresh_publication(other, {"published": True}) is False
    assert other.read_text(encoding="utf-8") == "<html>no markers</html>"
    page = render_report(minimal())
    assert patch_publication(page + page, {"published": True}) is None
    target = tmp_path / "real.html"
    target.write_text(page, encoding="utf-8")
    link = tmp_path / "report.html"
    link.symlink_to(target)
    assert refresh_publication(link, {"published": True}) is False  # a symlink is never followed
    assert target.read_text(encoding="utf-8") == page


def test_write_summary_patches_the_report(tmp_path: Path) -> None:
    from rotaflow.services.generate import write_summary
    from rotaflow.services.results import GenerateResult

    result = GenerateResult.start(
        run_id="run-1", program="tiny", program_version=1, block_id="B1", rules=[], time_limit_seconds=5
    )
    (tmp_path / "report.html").write_text(render_report(minimal()), encoding="utf-8")
    write_summary(tmp_path, result.published_as(True, 3).backed_up({"backup_id": "quick-1", "tier": "quick"}))
    values = glance((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert (values["published"], values["version"], values["backup_id"]) == (True, 3, "quick-1")
    assert json.loads((tmp_path / "summary.json").read_text())["backup"]["backup_id"] == "quick-1"


# --------------------------------------------------------------------------- hours, contingency, history


def test_hours_per_resident_is_grouped_by_pgy_then_rotation_one_trace_per_rotation() -> None:
    weekly = pd.DataFrame(
        {
            "person_id": ["R1", "R1", "R2", "R3", "R4", "R5"],
            "week_start": ["2027-07-01", "2027-07-08"] + ["2027-07-01"] * 4,
            "hours": [90.0, 60.0, 50.0, 70.0, 40.0, 30.0],
            "average_4w": [70.0, 75.0, 50.0, 82.0, 40.0, 30.0],
            "limit": [80.0] * 6,
        }
    )
    assignments = pd.DataFrame(
        {
            "person_id": ["R1", "R2", "R3", "R3", "R3", "R4"],
            "date": ["2027-07-01"] * 6,
            "shift_id": ["DAY"] * 6,
            "pgy": [2, 1, 1, 1, 1, 2],
            "rotation_id": ["ICU", "WARD", "ICU", "WARD", "WARD", "ICU"],
        }
    )
    page = render_report(minimal(weekly_hours=weekly, assignments=assignments))
    traces, layout = plot_json(page, PLOT_IDS["hours_per_resident"])
    bars = {t["name"]: t for t in traces if t["type"] == "bar"}
    assert set(bars) == {"ICU", "WARD", "not known"}  # R5 has no assignment: rotation and PGY unknown
    assert bars["ICU"]["x"] == ["R1", "R4"] and bars["ICU"]["y"] == [90.0, 40.0]  # highest single week
    assert bars["WARD"]["x"] == ["R2", "R3"]  # R3 works WARD most
    averages, crosses = [t for t in traces if t["type"] == "scatter"]
    assert averages["name"] == "highest 4-week average" and crosses["x"] == ["R1"]  # R1's 90 h week
    assert layout["xaxis"]["categoryarray"] == ["R2", "R3", "R1", "R4", "R5"]  # PGY 1, PGY 2, unknown
    assert averages["x"] == ["R2", "R3", "R1", "R4", "R5"] and averages["y"] == [50.0, 82.0, 75.0, 40.0, 30.0]
    assert [a["text"] for a in layout["annotations"]] == ["80 h", "PGY 1", "PGY 2", "PGY unknown"]
    line = layout["shapes"][0]
    assert (line["y0"], line["y1"], line["line"]["dash"]) == (80.0, 80.0, "dash")
    assert "1 above their limit in a single week, 1 with a complete 4-week average above it" in page


def test_hours_per_resident_places_someone_without_shifts_by_people_and_rotations() -> None:
    weekly = pd.DataFrame(
        {"person_id": ["R1", "R9"], "week_start": ["2027-07-01"] * 2, "hours": [50.0, 0.0], "limit": [80.0] * 2}
    )
    assignments = pd.DataFrame(
        {"person_id": ["R1"], "date": ["2027-07-01"], "shift_id": ["DAY"], "pgy": [1], "rotation_id": ["ICU"]}
    )
    people = pd.DataFrame({"person_id": ["R1", "R9"], "role": ["resident"] * 2, "pgy": [1, 3]})
    rotations = pd.DataFrame(
        {
            "person_id": ["R9", "R9"],
            "start_date": ["2027-07-01", "2027-07-03"],
            "end_date": ["2027-07-02", "2027-07-28"],
            "rotation_id": ["ICU", "VAC"],
        }
    )
    page = render_report(minimal(weekly_hours=weekly, assignments=assignments, people=people, rotations=rotations))
    traces, layout = plot_json(page, PLOT_IDS["hours_per_resident"])
    bars = {t["name"]: t["x"] for t in traces if t["type"] == "bar"}
    assert bars == {"ICU": ["R1"], "VAC": ["R9"]}  # R9 (on leave all block) by the rotation of their longest stretch
    assert [a["text"] for a in layout["annotations"]] == ["80 h", "PGY 1", "PGY 3"]  # PGY from people.csv


def test_hours_per_resident_scales_to_a_large_program() -> None:
    data = example_data(residents=300, days=14)
    page = render_report(minimal(weekly_hours=data.weekly_hours, assignments=data.assignments))
    traces, layout = plot_json(page, PLOT_IDS["hours_per_resident"])
    assert len(traces) <= 6  # four rotations, the averages and the crosses, not 300 traces
    assert sum(len(t["x"]) for t in traces if t["type"] == "bar") == 300
    assert layout["xaxis"]["showticklabels"] is False


def test_a_large_n1_chart_has_no_bar_labels() -> None:
    contingency = pd.DataFrame([{"people": (f"R{i}",), "outcome": "covered", "repair_size": i % 5} for i in range(80)])
    traces, _ = plot_json(render_report(minimal(contingency=contingency)), PLOT_IDS["contingency"])
    assert len(traces) == 1 and len(traces[0]["x"]) == 80 and "text" not in traces[0]


def test_n1_only_contingency_is_one_bar_per_person_critical_in_red() -> None:
    contingency = pd.DataFrame(
        [
            {"people": ("R2",), "outcome": "uncovered", "first_uncovered_date": "2027-07-03", "settled_by": "solver"},
            {"people": ("R1",), "outcome": "covered", "repair_size": 3},
            {"people": ("R10",), "outcome": "covered", "repair_size": None},
            {"people": ("R3",), "outcome": "unknown"},
        ]
    )
    page = render_report(minimal(contingency=contingency))
    traces, layout = plot_json(page, PLOT_IDS["contingency"])
    assert [t["type"] for t in traces] == ["bar", "bar", "bar"]  # no N x N matrix
    covered, critical, undecided = traces
    assert covered["x"] == ["R1", "R10"] and covered["y"] == [3.0, 0.0]
    assert covered["text"] == ["3", "0"] and critical["text"] == ["critical"]  # a repair of 0 still shows
    assert covered["customdata"][1] == "covered; the repair changes unknown assignments"
    assert critical["name"] == "critical: uncovered" and critical["marker"]["color"] == "#c62828"
    assert critical["x"] == ["R2"] and critical["y"] == [3.0]  # full height
    assert critical["customdata"] == ["CRITICAL: uncovered from 2027-07-03<br>settled by solver"]
    assert undecided["x"] == ["R3"]
    assert layout["xaxis"]["categoryarray"] == ["R1", "R2", "R3", "R10"]
    assert layout["xaxis"]["title"]["text"] == "person lost"
    assert "second person lost" not in page
    assert "4 single-loss (N-1) scenarios, one per person: 1 critical" in page


def test_n2_keeps_the_matrix() -> None:
    contingency = pd.DataFrame(
        [
            {"people": ("R1",), "outcome": "covered", "repair_size": 1},
            {"people": ("R1", "R2"), "outcome": "uncovered"},
        ]
    )
    traces, layout = plot_json(render_report(minimal(contingency=contingency)), PLOT_IDS["contingency"])
    assert traces[0]["type"] == "heatmap" and layout["xaxis"]["title"]["text"] == "second person lost"


@pytest.mark.parametrize(("given", "noted"), [(False, True), (True, False), (None, False)])
def test_history_note_when_no_history_was_given(given: bool | None, noted: bool) -> None:
    data = example_data(residents=3, days=14)
    if given is not None:
        data.summary["history_given"] = given
    page = render_report(data)
    assert ('id="no-history"' in page) is noted
    if noted:
        section = page[page.index('<section id="hours"') :]
        assert section.index('id="no-history"') < section.index('id="plot-hours"')
        assert "No history before the block was given" in section and "not 0 h" in section


def test_no_history_note_without_weekly_hours() -> None:
    data = minimal()
    data.summary["history_given"] = False
    assert 'id="no-history"' not in render_report(data)


def test_a_validation_carries_the_glance_figures_and_its_report_shows_them(tmp_path: Path) -> None:
    """A real validation: validation.json holds the figures, and the report's glance says the same."""
    import datetime as dt

    from rotaflow.services.validate import validate, write_validation
    from rotaflow.validations.schedule import load_schedule
    from tests.unit.validations.test_report import _program

    bundle = _program(tmp_path / "program")  # no history.csv
    rows = [(f"R{n}", "2027-07-01", "DAY") for n in range(1, 4)] + [("F1", "2027-07-01", "DAY")]
    rows += [("F2", "2027-07-01", "DAY"), ("R7", "2027-07-01", "NIGHT")]
    rows += [(f"R{n}", "2027-07-02", "DAY") for n in range(1, 5)] + [("F1", "2027-07-02", "DAY")]
    rows += [("R8", "2027-07-02", "NIGHT")]
    frame = pd.DataFrame(rows, columns=["person_id", "date", "shift_id"])
    first = dt.date(2027, 7, 1)
    validation = validate(bundle, load_schedule(bundle, frame), period=(first, first + dt.timedelta(days=1)))
    written = write_validation(tmp_path / "out", validation, bundle, data_docs=False)
    facts = json.loads((written.folder / "validation.json").read_text())
    assert facts["history_given"] is False and facts["weekly_limit_hours"] == 80.0
    assert facts["single_week_over_limit"] == []
    # 07-01: residents 3/3 (no spare, though faculty 2/1 has one); 07-02: faculty 1/1 (residents 4/3 has one)
    assert facts["days_without_spare"] == ["2027-07-01", "2027-07-02"]
    page = (written.folder / "report.html").read_text()
    values = glance(page)
    assert values["days_without_spare"] == facts["days_without_spare"]
    found = re.search(r'data-glance="days_without_spare"[^>]* data-requirements="([^"]*)"', page)
    assert found is not None
    named = json.loads(html.unescape(found.group(1)))
    assert set(named) == {"2027-07-01", "2027-07-02"} and named["2027-07-01"] != named["2027-07-02"]
    assert glance_text(page, "days_without_spare").startswith("2: 2027-07-01 (")
    assert values["single_week_over_limit"] == facts["single_week_over_limit"]
    assert 'id="no-history"' in page
    traces, _ = plot_json(page, PLOT_IDS["hours"])  # the rolling 28-day windows reach before the period: unknown
    assert [t.get("name") for t in traces if t["type"] == "heatmap"][-1] == "history before the block unknown"
    at_minimum = [r for r in rows if r not in {("F2", "2027-07-01", "DAY"), ("R4", "2027-07-02", "DAY")}]
    frame = pd.DataFrame(at_minimum, columns=["person_id", "date", "shift_id"])
    tight = validate(bundle, load_schedule(bundle, frame), period=(first, first + dt.timedelta(days=1)))
    assert tight.summary()["days_without_spare"] == ["2027-07-01", "2027-07-02"]
    with_history = validate(
        bundle,
        load_schedule(bundle, frame),
        period=(first + dt.timedelta(days=1), first + dt.timedelta(days=1)),
        history=load_schedule(bundle, frame.iloc[:1]),
    )
    assert with_history.summary()["history_given"] is True
