"""Great Expectations Data Docs in a real browser with the network blocked: the lists show, nothing errors.

GX's own pages load jQuery, Bootstrap and their plug-ins from CDNs; offline its index lists nothing and
every inline script fails with ``$ is not defined``. rotaflow rewrites the site after each build
(``offline_site``). This builds the Data Docs of a run's outputs with a real GX run, opens the index, the
run's own page and a GX validation page in headless Chromium with every non-file request aborted, and
checks the results are listed and no script errors. Skipped like tests/browser/test_report_browser.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rotaflow.services.validate import read_outputs
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS, OUTPUTS
from rotaflow.validations.expectations import ExpectationReport, run_expectations, validation_run_name

pytestmark = pytest.mark.browser

ASSIGNMENTS = (
    ",".join(ASSIGNMENT_COLUMNS)
    + "\n"
    + "R1,2027-07-01,DAY,2027-07-01T07:00:00-10:00,2027-07-01T19:00:00-10:00,12,WARD,solver,2027-07-01 07:00,2027-07-01 19:00\n"
    + "R2,2027-07-01,HOME,2027-07-01T17:00:00-10:00,2027-07-02T07:00:00-10:00,2,WARD,solver,2027-07-01 17:00,2027-07-02 07:00\n"
)
FINDINGS = (
    ",".join(FINDING_COLUMNS)
    + "\n"
    + "coverage,violation,,2027-07-01,2027-07-01,0,1,people,DAY on 2027-07-01 has 0 of the 1 people it needs,"
    + "hard,2027-07-01,DAY\n"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ExpectationReport:
    frames = read_outputs({"assignments": ASSIGNMENTS.encode(), "findings": FINDINGS.encode()})
    gx_dir = tmp_path_factory.mktemp("docs") / "gx"
    return run_expectations(
        frames, gx_dir=gx_dir, steward=[], datasets=OUTPUTS, run_name=validation_run_name("tiny", "run-1")
    )


def _open_offline(browser: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    """Open ``path`` with every request that is not a local file aborted; collect errors and those requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, blocked


def test_the_index_lists_the_results_offline(browser: Any, site: ExpectationReport) -> None:
    assert site.docs_index is not None and site.success
    page, errors, blocked = _open_offline(browser, site.docs_index)
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 2  # the run's assignments and findings
    assert rows.first.is_visible()
    assert set(page.locator("table.results tbody td:nth-child(3)").all_inner_texts()) == {"tiny-run-1"}
    assert page.locator("ul.suites li").count() == 2
    assert errors == [] and blocked == []
    page.close()


def test_the_runs_own_page_links_gx_pages_that_work_offline(browser: Any, site: ExpectationReport) -> None:
    assert site.docs_page is not None and site.run_name == "tiny-run-1"
    assert site.docs_page.parent.name == "tiny-run-1"
    page, errors, blocked = _open_offline(browser, site.docs_page)
    links = page.locator("table.results tbody a")
    assert sorted(links.all_inner_texts()) == ["rotaflow-assignments", "rotaflow-findings"]
    assert page.locator(".passed").count() == 2
    assert errors == [] and blocked == []

    page.locator("table.results tbody a", has_text="rotaflow-findings").click()
    page.wait_for_load_state("load")
    assert "/validations/rotaflow-findings/tiny-run-1/" in page.url  # the run name, not __none__
    gx_page, gx_errors, gx_blocked = _open_offline(browser, Path(page.url.removeprefix("file://")))
    body = gx_page.locator("body")
    assert "values must" in body.inner_text()  # GX's results table, in the markup
    assert gx_page.locator("table").count() > 1
    assert gx_page.locator(".fa-check-circle").first.is_visible()
    assert not any("$ is not defined" in e for e in gx_errors), gx_errors
    assert gx_errors == [] and gx_blocked == []
    gx_page.close()
    page.close()
