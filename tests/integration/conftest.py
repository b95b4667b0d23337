"""Fixtures of the integration tests: a real Prefect server (the filled databases and the SeaweedFS S3
server come from the tests.backups_fixtures plugin)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rotaflow.serve import (
    ServeConfig,
    Served,
    auth_string,
    record_api_url,
    shut_down,
    start_server,
    wait_until_healthy,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="package")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``prefect server start`` as `rotaflow serve` starts it (own SQLite, loopback, API auth, its URL recorded
    in ``<home>/api-url`` for the CLI), no worker."""
    home = tmp_path_factory.mktemp("prefect-home")
    config = ServeConfig(port=_free_port(), home=home, deploy=False, worker=False, startup_timeout=90)
    auth, source = auth_string(home)
    served = Served(config, auth, source, start_server(config, auth))
    try:
        wait_until_healthy(config, served.server, config.startup_timeout)
        record_api_url(config)
        yield served
    finally:
        shut_down(served)
