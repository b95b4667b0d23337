"""The Data Docs site as runs add to it: only a run's own pages are built and rewritten, each whole and
0600, under the site's lock, and the index lists every run from the site's ledger."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rotaflow.services.validate import read_outputs
from rotaflow.validations.contracts import ASSIGNMENT_COLUMNS, FINDING_COLUMNS, OUTPUTS
from rotaflow.validations.expectations import (
    SITE_LEDGER,
    SITE_LOCK,
    ExpectationReport,
    offline_site,
    run_expectations,
    site_lock,
)

# GX 1.24 imports the deprecated sre_constants / sre_parse at import time (see test_expectations.py)
pytestmark = pytest.mark.filterwarnings("ignore:module 'sre_(constants|parse)' is deprecated:DeprecationWarning")

ASSIGNMENTS = (
    ",".join(ASSIGNMENT_COLUMNS)
    + "\nR1,2027-07-01,DAY,2027-07-01T07:00:00-10:00,2027-07-01T19:00:00-10:00,12,WARD,solver,"
    + "2027-07-01 07:00,2027-07-01 19:00\n"
)
FINDINGS = ",".join(FINDING_COLUMNS) + "\n"
SCRIPT = '<script src="https://code.jquery.com/jquery.js"></script>'


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _state(path: Path) -> tuple[int, int]:
    """What a rewrite changes: the inode (a rename) and the modification time (an in-place write)."""
    info = path.stat()
    return info.st_ino, info.st_mtime_ns


@dataclass
class TwoRuns:
    first: ExpectationReport
    second: ExpectationReport
    before: dict[Path, tuple[int, int]]
    """Every file of the first run's pages after the first run."""
    first_store: list[Path]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRuns]:
    """Two validations of the outputs into one GX folder, under a umask that lets everybody read."""
    previous = os.umask(0o022)
    try:
        gx_dir = tmp_path_factory.mktemp("site") / "gx"
        frames = read_outputs({"assignments": ASSIGNMENTS.encode(), "findings": FINDINGS.encode()})
        first = run_expectations(frames, gx_dir=gx_dir, steward=[], datasets=OUTPUTS, run_name="tiny-run-1")
        assert first.docs_index is not None and first.docs_page is not None
        site = first.docs_index.parent
        pages = [*site.glob("validations/*/tiny-run-1/*/*.html"), first.docs_page]
        before = {p: _state(p) for p in pages}
        # the first run's stored results become unreadable: the second run must not need them
        first_store = sorted((gx_dir / "gx" / "uncommitted" / "validations").glob("*/tiny-run-1/*/*.json"))
        for path in first_store:
            path.write_text("{not json")
        time.sleep(0.01)  # a rewrite would show in the modification time
        second = run_expectations(frames, gx_dir=gx_dir, steward=[], datasets=OUTPUTS, run_name="tiny-run-2")
    finally:
        os.umask(previous)
    yield TwoRuns(first, second, before, first_store)


def test_a_second_run_leaves_the_first_runs_pages_alone(two_runs: TwoRuns) -> None:
    assert len(two_runs.before) == 3  # the first run's two result pages and its own page
    for page, state in two_runs.before.items():
        assert _state(page) == state, page


def test_the_index_lists_both_runs_without_reading_the_first_again(two_runs: TwoRuns) -> None:
    assert two_runs.second.docs_index == two_runs.first.docs_index is not None
    index = two_runs.second.docs_index.read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>.*?</tr>", index)
    assert len(rows) == 4
    assert sum("<td>tiny-run-1</td>" in r for r in rows) == sum("<td>tiny-run-2</td>" in r for r in rows) == 2
    # the first run's counts come from the ledger: its stored results no longer parse
    assert len(two_runs.first_store) == 2
    assert all("<td>27</td>" in r or "<td>22</td>" in r for r in rows)
    assert index.index("tiny-run-2") < index.index("tiny-run-1")  # newest first
    for link in re.findall(r'href="(validations/[^"]+)"', index):
        assert (two_runs.second.docs_index.parent / link).is_file(), link


def test_the_sites_pages_are_private_whatever_the_umask(two_runs: TwoRuns) -> None:
    site = two_runs.second.docs_index.parent if two_runs.second.docs_index else Path()
    assert two_runs.second.docs_page is not None
    written = [
        two_runs.second.docs_page,
        site / "index.html",
        site / SITE_LEDGER,
        site / SITE_LOCK,
        *site.glob("validations/*/tiny-run-2/*/*.html"),
        *site.glob("expectations/*.html"),
        *two_runs.before,
    ]
    assert len(written) == 11
    for path in written:
        assert _mode(path) == 0o600, f"{path}: {oct(_mode(path))}"
    for path in site.rglob("*.html"):  # every page GX wrote was made offline
        assert "<script" not in path.read_text(encoding="utf-8").lower(), path
    ledger = [json.loads(line) for line in (site / SITE_LEDGER).read_text(encoding="utf-8").splitlines()]
    assert [(r["run_name"], r["suite"]) for r in ledger] == [
        ("tiny-run-1", "rotaflow-assignments"),
        ("tiny-run-1", "rotaflow-findings"),
        ("tiny-run-2", "rotaflow-assignments"),
        ("tiny-run-2", "rotaflow-findings"),
    ]


def _result(store: Path, run: str, stamp: str, *, success: bool = True) -> Path:
    folder = store / "rotaflow-people" / run / stamp
    folder.mkdir(parents=True)
    path = folder / "people.json"
    path.write_text(
        json.dumps(
            {
                "suite_name": "rotaflow-people",
                "success": success,
                "statistics": {"evaluated_expectations": 3, "unsuccessful_expectations": 0 if success else 1},
                "results": [],
            }
        )
    )
    return path


def _page(site: Path, run: str, stamp: str) -> Path:
    page = site / "validations" / "rotaflow-people" / run / stamp / "people.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"<html><head>{SCRIPT}</head><body><table></table></body></html>")
    return page


def test_a_site_with_a_ledger_rewrites_only_the_new_runs_pages(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    first_time, second_time = dt.datetime(2027, 7, 1, tzinfo=dt.UTC), dt.datetime(2027, 7, 2, tzinfo=dt.UTC)
    first_stamp, second_stamp = "20270701T000000.000000Z", "20270702T000000.000000Z"
    _result(store, "run-a", first_stamp)
    first = _page(site, "run-a", first_stamp)
    assert offline_site(site, store, "run-a", first_time) == site / "runs" / "run-a" / f"{first_stamp}.html"
    assert SCRIPT not in first.read_text()  # a site without a ledger: every page, once
    assert (site / SITE_LEDGER).is_file()

    first.write_text(first.read_text() + SCRIPT)  # were it rewritten again, the script would go
    unrelated = _page(site, "run-old", "manual")  # a page of no stored result, added later
    _result(store, "run-b", second_stamp, success=False)
    second = _page(site, "run-b", second_stamp)
    offline_site(site, store, "run-b", second_time)
    assert SCRIPT in first.read_text() and SCRIPT in unrelated.read_text()
    assert SCRIPT not in second.read_text() and _mode(second) == 0o600
    index = (site / "index.html").read_text()
    assert index.count("<tr><td>") == 2 and index.count('class="failed"') == 1
    assert "<td>run-a</td>" in index and "<td>run-b</td>" in index


def test_a_broken_ledger_line_is_skipped_and_a_later_line_wins(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    stamp = "20270701T000000.000000Z"
    _result(store, "run-a", stamp)
    site.mkdir()
    offline_site(site, store, "run-a", dt.datetime(2027, 7, 1, tzinfo=dt.UTC))
    ledger = site / SITE_LEDGER
    (line,) = ledger.read_text().splitlines()
    entry = json.loads(line)
    # a run stopped half-way through a line, then the same result again with other counts
    ledger.write_text(line + "\n" + line[:20] + "\n" + json.dumps({**entry, "failed": 2, "success": False}) + "\n")
    offline_site(site, store)  # no run: only the index
    index = (site / "index.html").read_text()
    assert index.count("<tr><td>") == 1 and '<span class="failed">failed</span>' in index and "<td>2</td>" in index


def test_a_second_writer_waits_for_the_sites_lock(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    site.mkdir()
    done = threading.Event()

    def write() -> None:
        offline_site(site, store)
        done.set()

    with site_lock(site):
        writer = threading.Thread(target=write)
        writer.start()
        assert not done.wait(0.5)  # the lock is held: nothing is written meanwhile
        assert not (site / "index.html").exists()
    writer.join(10)
    assert done.is_set() and (site / "index.html").is_file()
