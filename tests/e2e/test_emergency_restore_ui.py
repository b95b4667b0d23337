"""End to end in a browser: an operator restores a named backup from the Prefect UI and confirms it there.

With the live PostgreSQL database backed up (named tier) and then changed (rows deleted, a row
edited, a row added), headless Chromium logs in to the Prefect UI (API auth), opens the
``emergency-restore`` deployment, fills the *Custom run* form (source *named*, the backup id) and
submits it. The real worker runs the flow, which pauses at the confirmation gate; the operator
opens the paused run, clicks *Resume*, types the backup id, switches *confirm* on and submits.
Then the API must show the run Completed with its "restored" report, its journal must say the
confirmation came from the Prefect UI, and the live database must equal the backup again.

Screenshots of every step go to var/screenshots/e2e-restore-*.png and to the test's tmp_path.
Skipped without ROTAFLOW_TEST_POSTGRES_URL, or without /usr/bin/chromium or Playwright unless
ROTAFLOW_TEST_REQUIRE_BROWSER=1 (then it fails).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.backups_fixtures import content_hashes
from tests.e2e.conftest import Stack

CHROMIUM = Path("/usr/bin/chromium")
REQUIRED = os.environ.get("ROTAFLOW_TEST_REQUIRE_BROWSER") == "1"
POSTGRES = os.environ.get("ROTAFLOW_TEST_POSTGRES_URL")


def _browser_problem() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:  # pragma: no cover - playwright is a dev dependency
        return f"playwright is not importable: {error}"
    return None


PROBLEM = _browser_problem()

pytestmark = [
    pytest.mark.flow,
    pytest.mark.browser,
    pytest.mark.postgres,
    # decided before the e2e stack starts, so a skipped test costs nothing
    pytest.mark.skipif(not POSTGRES, reason="ROTAFLOW_TEST_POSTGRES_URL is not set"),
    pytest.mark.skipif(PROBLEM is not None and not REQUIRED, reason=str(PROBLEM)),
]

RUN_TIMEOUT = 240.0  # to the pause, and from the answer to the end: process start and imports dominate
UI_TIMEOUT = 30_000  # ms, for one element of the UI to appear
CHANGED_NAME = "Changed after the backup"
MARKER = "added-after-the-backup"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if PROBLEM:
        pytest.fail(f"ROTAFLOW_TEST_REQUIRE_BROWSER=1 but {PROBLEM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


class Screenshots:
    """Numbered screenshots of each step, in every folder given."""

    def __init__(self, page: Any, folders: list[Path]) -> None:
        self.page = page
        self.folders = folders
        self.steps: list[str] = []
        self.taken: list[Path] = []
        for old in folders[0].glob("e2e-restore-*.png"):  # an earlier run's other steps would mislead
            old.unlink()

    def take(self, step: str) -> None:
        self.steps.append(step)
        name = f"e2e-restore-{len(self.steps):02d}-{step}.png"
        for folder in self.folders:
            self.page.screenshot(path=str(folder / name))
            self.taken.append(folder / name)


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _scalar(url: str, statement: str) -> Any:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement)).scalar()
    finally:
        engine.dispose()


def _named_backup(stack: Stack) -> str:
    """A named backup of the live database, taken as an operator would before a risky change."""
    from rotaflow.backups.config import load_backup_config
    from rotaflow.backups.sets import create_backup
    from rotaflow.db.session import dispose_engines

    try:
        created = create_backup(
            "named",
            name="before the e2e change",
            database_url=stack.live_url,
            config=load_backup_config(),
            settings=stack.settings(),
        )
    finally:
        dispose_engines()  # no connection of this process may hold the live database during the switch
    return created.backup_id


def _form_field(page: Any, name: str) -> Any:
    """One parameter of the run form, by its label (``name`` or ``name (Optional)``)."""
    label = page.locator(".schema-form-property__label", has_text=re.compile(rf"^{re.escape(name)}( \(Optional\))?$"))
    return page.locator(".schema-form-property").filter(has=label)


def _wait_for_path(page: Any, path: str) -> None:
    """The single-page app moved to ``path`` (any query string)."""
    page.wait_for_url(lambda url: urlsplit(url).path == path)


def _dismiss_toasts(page: Any) -> None:
    """Close the notices left over from the first, unauthenticated page load ("Authentication failed.")."""
    for close in page.locator(".p-toast-container button.p-toast__close-btn").all():
        close.dispatch_event("click")  # stacked notices overlap and leave the viewport: no pointer click
    page.wait_for_function("() => !document.querySelector('.p-toast-container .p-toast__card')", timeout=5_000)


def _hold(page: Any, notice: Any) -> None:
    """Keep a notice open: it stays while the pointer rests on it."""
    box = notice.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _click_where(page: Any, element: Any) -> None:
    """Click at the element's place, as a user does (a notice's buttons fail Playwright's hit test: another
    layer of the notices app lies over them, so ``element.click()`` waits forever)."""
    element.wait_for()
    box = element.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _submit(page: Any, button: Any, accepted: str, refused: str, attempts: int = 3) -> Any:
    """Click ``button`` until the UI confirms with a notice saying ``accepted``; that notice.

    Under load the Prefect server's SQLite database can be busy and the API answers 503 (a known
    Prefect limitation); the UI then shows ``refused`` and, like an operator, the test clicks again.
    """
    notices = page.locator(".p-toast-container .p-toast__card")
    ok, bad = notices.filter(has_text=accepted), notices.filter(has_text=refused)
    for _ in range(attempts):
        button.click()
        ok.or_(bad).first.wait_for()
        if ok.count():
            return ok.first
        print(f"the UI said {bad.first.inner_text()!r}: submitting again")
        _dismiss_toasts(page)
    raise AssertionError(f"the UI refused {attempts} times: {refused}")


def _wait_for_run(stack: Stack, deployment_id: str, backup_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The flow run the UI created for ``backup_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [
            r
            for r in stack.flow_runs({"flow_runs": {"deployment_id": {"any_": [deployment_id]}}})
            if r["parameters"].get("backup_id") == backup_id
        ]
        if runs:
            assert len(runs) == 1, runs
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"the UI created no emergency-restore run for {backup_id}\n{stack.diagnosis()}")


def _journal_of(report: str) -> dict[str, Any]:
    found = re.search(r"^- journal: `([^`]+)`$", report, re.M)
    assert found, report
    return dict(json.loads(Path(found.group(1)).read_text()))


def test_an_operator_restores_a_named_backup_from_the_prefect_ui(
    stack: Stack, browser: Any, screenshot_dirs: list[Path]
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from rotaflow.backups.databases import related_databases

    live = stack.live_url
    backup_id = _named_backup(stack)
    backed_up = content_hashes(live)
    absences = backed_up["absences"][0]
    assert absences > 0
    _execute(
        live,
        "DELETE FROM absences",
        f"UPDATE people SET name = '{CHANGED_NAME}' WHERE person_id = 'R2'",
        "INSERT INTO audit_log (at, actor, action, entity, entity_key, details) "
        f"VALUES (now(), 'e2e', 'note', 'e2e', '{MARKER}', '{{}}')",
    )
    changed = content_hashes(live)
    assert changed["absences"][0] == 0 and changed != backed_up

    deployment = stack.deployment("emergency-restore", "emergency-restore")
    ui = stack.served.config.ui_url
    deployment_path = f"/deployments/deployment/{deployment['id']}"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    shots = Screenshots(page, screenshot_dirs)
    page.set_default_timeout(UI_TIMEOUT)
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(f"{shots.steps[-1:]}: {error.stack or error}"))
    run: dict[str, Any] | None = None
    try:
        # the UI asks for the API credential first, then returns to the page asked for
        page.goto(ui + deployment_path)
        _wait_for_path(page, "/login")
        page.get_by_role("button", name="Login").wait_for()
        page.get_by_placeholder("admin:pass").fill(stack.served.auth)
        shots.take("login")
        page.get_by_role("button", name="Login").click()
        _wait_for_path(page, deployment_path)
        page.get_by_text("rotaflow.flows.restore:emergency_restore").wait_for()  # drawn with the API's answers
        _dismiss_toasts(page)

        # Run → Custom run: the parameters form
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_text("Custom run").wait_for()
        shots.take("run-menu")
        page.get_by_text("Custom run").click()
        _wait_for_path(page, f"{deployment_path}/run")
        source = _form_field(page, "source").locator(".p-select-button__control")
        source.focus()  # this select opens from the keyboard; a synthetic click does not open it
        page.keyboard.press("ArrowDown")
        page.get_by_role("option", name="named", exact=True).click()
        _form_field(page, "backup_id").locator("textarea").fill(backup_id)
        _form_field(page, "confirm_timeout_seconds").locator("input").fill("600")
        _form_field(page, "confirm_poll_seconds").locator("input").fill("1")
        assert _form_field(page, "source").inner_text().strip().endswith("named")
        # nothing in the form confirms on the operator's behalf: the run must ask in the UI
        labels = {
            t.strip().removesuffix(" (Optional)")
            for t in page.locator(".schema-form-property__label").all_inner_texts()
        }
        assert {"source", "backup_id", "confirm_timeout_seconds"} <= labels and "confirmed_backup_id" not in labels
        shots.take("custom-run-form")
        submit = page.get_by_role("button", name="Submit")
        toast = _submit(page, submit, "scheduled to start now", "Something went wrong trying to create a flow run")

        # back on the deployment, a notice names the new run and links to it
        _hold(page, toast)
        _wait_for_path(page, deployment_path)
        page.get_by_text("rotaflow.flows.restore:emergency_restore").wait_for()
        shots.take("submitted")
        run = _wait_for_run(stack, deployment["id"], backup_id)
        assert run["name"] in toast.inner_text()
        assert run["parameters"] == {
            "source": "named",
            "backup_id": backup_id,
            "confirm_timeout_seconds": 600,
            "confirm_poll_seconds": 1,
            "keep_previous": False,
            "config_path": None,
        }
        _click_where(page, toast.get_by_role("button", name="View run"))
        _wait_for_path(page, f"/runs/flow-run/{run['id']}")

        # the worker runs it; it pauses at the confirmation gate with the live database untouched
        paused = stack.wait_for_state(run["id"], ["PAUSED"], RUN_TIMEOUT)
        assert content_hashes(live) == changed
        keyset = paused["state"]["state_details"]["run_input_keyset"]
        assert keyset, paused["state"]
        resume = page.get_by_role("button", name="Resume")
        try:
            resume.wait_for(timeout=10_000)
        except PlaywrightTimeout:  # the page was drawn before the run paused: a reload shows the paused state
            page.reload()
            resume.wait_for()
        page.get_by_text("Paused", exact=True).first.wait_for()
        shots.take("paused")

        # Resume: the dialog says first what to do, then what will happen; type the backup id, switch confirm on
        page.set_viewport_size({"width": 1400, "height": 900})
        resume.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Emergency restore: confirm").wait_for()
        description = dialog.inner_text()
        assert backup_id in description and "Pre-snapshot" in description, description
        instruction = dialog.get_by_text(re.compile(r"^To restore, type")).first
        instruction.wait_for()
        box = instruction.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900, box  # seen without scrolling
        dialog_labels = [t.strip() for t in dialog.locator(".schema-form-property__label").all_inner_texts()]
        assert len(dialog_labels) == 2 and not any("Optional" in t for t in dialog_labels), dialog_labels
        shots.take("resume-dialog")
        dialog.locator("textarea").fill(backup_id)
        switch = dialog.get_by_role("switch")
        switch.click()
        assert switch.get_attribute("aria-checked") == "true"
        shots.take("resume-filled")
        _submit(page, dialog.get_by_role("button", name="Submit"), "Flow run resumed", "Failed to resume flow run")

        done = stack.wait_for_state(run["id"], ["COMPLETED"], RUN_TIMEOUT)
        page.reload()
        page.get_by_text("Completed", exact=True).first.wait_for()
        page.get_by_text(f"Beginning flow run '{run['name']}'").wait_for()  # the logs are drawn
        shots.take("completed")

        # the run's report, as the UI shows it
        page.get_by_text("Artifacts", exact=True).first.click()
        card = page.locator(".artifact-card").filter(has_text="emergency-restore")
        card.first.click()
        page.get_by_role("heading", name="Emergency restore: restored").wait_for()
        shots.take("restore-report")
    except BaseException:
        try:
            shots.take("failure")
        except Exception as exc:  # a crashed page: the original error matters more
            print(f"no failure screenshot: {exc}")
        print(f"page errors: {page_errors}\n{stack.diagnosis(run['id'] if run else None)}")
        raise
    finally:
        context.close()

    why = stack.diagnosis(run["id"])
    assert done["state_type"] == "COMPLETED", why

    # what the operator typed reached the run as its answer
    with stack.client() as client:
        answer = client.get(f"/flow_runs/{run['id']}/input/{keyset['response']}")
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {"backup_id": backup_id, "confirm": True}

    # the run's report says restored; its journal, that the UI confirmed it
    [report] = [a["data"] for a in stack.artifacts([run["id"]]) if a["key"] == "emergency-restore"]
    assert report.startswith("# Emergency restore: restored"), report
    assert f"- backup: `{backup_id}` (named)" in report
    snapshot = re.search(r"^- pre-snapshot: `([^`]+)`$", report, re.M)
    assert snapshot and "quick" in snapshot.group(1), report
    journal = _journal_of(report)
    assert journal["status"] == "done" and journal["backup_id"] == backup_id
    assert journal["flow_run_id"] == run["id"]
    steps = {s["step"]: s for s in journal["steps"]}
    assert steps["confirmation"]["how"] == "prefect ui", journal["steps"]
    # and who confirmed, how and when, each gate's outcome, the way back
    assert (
        "- how: typed in the Prefect UI (Resume dialog)" in report
        and "- by: an operator in the Prefect UI (shared API account rotaflow: the UI does not tell who)" in report
    )
    assert re.search(r"^- when: .+ UTC \(.+ local time\)$", report, re.M), report
    assert len(re.findall(r"^\| \d [^|]+\| passed \|", report, re.M)) == 6, report
    assert f"`rotaflow restore emergency --source quick --backup-id {snapshot.group(1)}`" in report
    assert {"pre-snapshot", "restored", "swapped", "verified-restored", "finished-done"} <= set(steps)

    # the live database is the backup again: the deleted rows are back, the edit undone, the addition gone
    assert content_hashes(live) == backed_up, why
    assert _scalar(live, "SELECT count(*) FROM absences") == absences
    assert _scalar(live, f"SELECT count(*) FROM people WHERE name = '{CHANGED_NAME}'") == 0
    assert _scalar(live, f"SELECT count(*) FROM audit_log WHERE entity_key = '{MARKER}'") == 0
    assert related_databases(live) == []  # no staging database left, the replaced one dropped

    # the pre-snapshot kept the state the restore replaced (quick tier at its default place, configs/backup.yaml)
    pre = stack.var_dir / "objects" / "backups" / "quick" / snapshot.group(1) / "manifest.json"
    assert json.loads(pre.read_text())["tables"]["absences"]["rows"] == 0

    # the Prefect UI's own script errors (its run graph throws while it redraws) are kept, not judged
    (screenshot_dirs[-1] / "e2e-restore-page-errors.txt").write_text("\n\n".join(page_errors))
    print(f"{len(page_errors)} script error(s) of the Prefect UI, in {screenshot_dirs[-1]}")
    assert shots.steps == [
        "login",
        "run-menu",
        "custom-run-form",
        "submitted",
        "paused",
        "resume-dialog",
        "resume-filled",
        "completed",
        "restore-report",
    ]
    for path in shots.taken:
        assert path.stat().st_size > 20_000, path
