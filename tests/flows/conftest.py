"""The flow tests run on the session's Prefect test API (tests/conftest.py, prefect_api)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _flows_use_prefect_api(prefect_api: str) -> None:
    """Every flow test runs against the session's Prefect test API."""
