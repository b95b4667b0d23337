"""One headless Chromium (Playwright) for the browser tests: launching it takes seconds.

Each test opens its own pages (and closes them); none changes the browser itself. The browser lives as
long as this package's tests (scope ``package``), not the session: Playwright's sync API keeps an event loop
running in the main thread while it is open, and Prefect's sync calls made in a thread with a running loop
return coroutines, so the flow tests after this package would fail. Skipped when
/usr/bin/chromium or Playwright is missing, unless ROTAFLOW_TEST_REQUIRE_BROWSER=1 (then it fails).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import CHROMIUM

REQUIRED = os.environ.get("ROTAFLOW_TEST_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as error:  # pragma: no cover - playwright is a dev dependency
            problem = f"playwright is not importable: {error}"
    if problem:
        if REQUIRED:
            pytest.fail(f"ROTAFLOW_TEST_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()
