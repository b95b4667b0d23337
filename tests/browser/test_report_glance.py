"""report.html's "At a glance" in a real browser, against the run's own summary.json.

Generates the tiny program's first block through the real generate flow (on the session's Prefect test API:
solve, export, independent validation with the N-1 contingency analysis, publish, quick backup), then opens
the run's report.html in headless Chromium and checks that every at-a-glance figure the page shows is the
one summary.json holds: published, version, backup id, the N-1 critical people, the jeopardy pool, the
residents above the weekly limit in a single week and the days without spare coverage. Saves a screenshot
of the section to var/screenshots/report-glance.png. Skipped when /usr/bin/chromium or Playwright is missing,
unless ROTAFLOW_TEST_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_report_browser import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")]

SCREENSHOT = ROOT / "var" / "screenshots" / "report-glance.png"


@pytest.fixture
def fast_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the bundle's Great Expectations suites at ingest (seconds; covered by the ingest flow tests)."""
    import rotaflow.services.ingest as ingest_service
    from rotaflow.validations.expectations import ExpectationReport

    monkeypatch.setattr(
        ingest_service, "check_expectations", lambda bundle, settings=None: ExpectationReport(True, [], None, 0, 0)
    )


def _solvable(bundle: Path) -> Path:
    """The tiny bundle, relaxed so that its first block solves (tests/flows/test_generate_flow.make_solvable)."""
    coverage = bundle / "coverage.csv"
    text = coverage.read_text()
    assert "NIGHT,daily,NF,resident,,,1,1," in text
    coverage.write_text(text.replace("NIGHT,daily,NF,resident,,,1,1,", "NIGHT,daily,NF,resident,,,0,1,1"))
    return bundle


def _generated(tiny_dir: Path, out: Path) -> dict[str, Any]:
    import gc

    from rotaflow.flows.generate import generate_block

    state = generate_block(str(_solvable(tiny_dir)), "B1", out_dir=str(out), time_limit_seconds=5, return_state=True)
    gc.collect()  # the solver's progress clients (see tests/flows/test_generate_flow.py)
    assert state.is_completed(), state.message
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_the_glance_shows_what_summary_json_holds(
    browser: Any,
    prefect_api: str,
    fast_ingest: None,
    tiny_dir: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    summary = _generated(tiny_dir, out)
    validation = summary["validation"]
    expected = {
        "published": summary["published"],
        "version": summary.get("version"),
        "backup_id": summary["backup"]["backup_id"],
        "n1_critical": validation["contingency"]["critical"],
        "jeopardy_pool": validation["contingency"]["jeopardy"]["members"],
        "single_week_over_limit": validation["single_week_over_limit"],
        "days_without_spare": validation["days_without_spare"],
    }
    assert expected["published"] is True and isinstance(expected["version"], int) and expected["backup_id"]

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    try:
        page.goto((out / "report.html").resolve().as_uri())
        section = page.locator("section#glance")
        assert section.is_visible()
        shown = {
            name: json.loads(section.locator(f'[data-glance="{name}"]').get_attribute("data-value") or "null")
            for name in expected
        }
        assert shown == expected
        words = {name: section.locator(f'[data-glance="{name}"]').inner_text() for name in expected}
        assert words["published"] == "published" and words["version"] == f"version {expected['version']}"
        assert words["backup_id"] == expected["backup_id"]
        pool = validation["contingency"]["jeopardy"]
        size = section.locator('[data-glance="jeopardy_pool"]').get_attribute("data-size")
        assert size == str(pool["size"]) == str(len(pool["members"]) + pool["cross_cover"])
        for name in ("n1_critical", "jeopardy_pool", "single_week_over_limit", "days_without_spare"):
            count = pool["size"] if name == "jeopardy_pool" else len(expected[name])
            assert words[name].split(":")[0] == str(count), (name, words[name])  # the count the page says
            shown = 5 if name == "days_without_spare" else 10  # dates each with their requirements: five
            assert all(item in words[name] for item in expected[name][:shown]), name
        # each day without spare names its requirements: every date has some, and the words show the first ones
        spare = section.locator('[data-glance="days_without_spare"]')
        requirements = json.loads(spare.get_attribute("data-requirements") or "{}")
        assert list(requirements) == expected["days_without_spare"] and all(requirements.values())
        for date in expected["days_without_spare"][:5]:
            assert f"{date} ({requirements[date][0]}" in words["days_without_spare"], date
        # the run table says the same, and the glance sits above the contents
        run_table = page.locator("#run-table").inner_text()
        assert f"yes, as version {expected['version']}" in run_table and expected["backup_id"] in run_table
        box, toc = section.bounding_box(), page.locator("nav.toc").bounding_box()
        assert box is not None and toc is not None and box["y"] < toc["y"]
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(SCREENSHOT))
        section.screenshot(path=str(tmp_path / "report-glance.png"))
        assert errors == []
    finally:
        page.close()
