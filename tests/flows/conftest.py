"""One Prefect test API for the whole session (starting one takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backups_fixtures import filled_postgres, filled_sqlite, postgres_template, sqlite_template  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
