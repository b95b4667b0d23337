"""Without Chromium (and without ROTAFLOW_TEST_REQUIRE_BROWSER=1) the session says once, in one line, that
the browser tests were skipped (tests/conftest.py); with Chromium it says nothing of the kind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
LINE = f"browser tests skipped: {CHROMIUM} not installed"


def test_the_session_says_once_whether_the_browser_tests_can_run() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROTAFLOW_TEST_REQUIRE_BROWSER"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", "tests/browser"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    expected = 0 if CHROMIUM.exists() else 1
    assert done.stdout.count(LINE) == expected, done.stdout[-2000:]


@pytest.mark.skipif(CHROMIUM.exists(), reason="with Chromium the inner session would run every browser test")
def test_spread_over_workers_the_session_still_counts_the_skipped_browser_tests() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROTAFLOW_TEST_REQUIRE_BROWSER"}
    modules = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests" / "browser").glob("test_*.py")
        if p.name != Path(__file__).name
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", *modules]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    skipped = re.search(r"(\d+) skipped", done.stdout)
    assert skipped and int(skipped.group(1)) > 0, done.stdout[-2000:]  # every test of these modules is a browser test
    assert done.stdout.count(f"{LINE} ({skipped.group(1)} tests)") == 1, done.stdout[-2000:]
