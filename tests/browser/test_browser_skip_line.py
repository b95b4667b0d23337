"""Without Chromium (and without ROTAFLOW_TEST_REQUIRE_BROWSER=1) the session says once, in one line, that
the browser tests were skipped (tests/conftest.py); with Chromium it says nothing of the kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
