"""The temporary Prefect API started while a command loads its modules (rotaflow.flows.warm)."""

from __future__ import annotations

import sys

import httpx
import pytest
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)

from rotaflow.flows.warm import api_warm_start


@pytest.fixture(autouse=True)
def _own_temporary_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets a temporary API of its own: Prefect keeps one ``SubprocessASGIServer`` per port, and the
    session's test API (tests/conftest.py ``prefect_api``) is that same instance, which stopping here would
    take from every flow test after these."""
    monkeypatch.delitem(SubprocessASGIServer._instances, None, raising=False)


def test_with_an_api_named_nothing_is_started_or_imported() -> None:
    assert PREFECT_API_URL.value()  # the session's test API
    with api_warm_start(["rotaflow_no_such_module_to_import"]) as started:
        assert started is False
    assert "rotaflow_no_such_module_to_import" not in sys.modules


def test_without_an_api_the_temporary_one_answers_when_the_block_ends_and_the_modules_are_loaded() -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not PREFECT_API_URL.value()
        with api_warm_start(["json", "rotaflow_no_such_module_to_import"]) as started:
            assert started is True
        server = SubprocessASGIServer()  # the instance a flow run's client takes
        try:
            assert server.running and server.server_process is not None
            assert server.server_process.poll() is None
            assert httpx.get(f"{server.api_url}/health", timeout=30).status_code == 200
        finally:
            server.stop()
    assert "json" in sys.modules


def test_with_temporary_servers_disabled_nothing_is_started_or_imported() -> None:
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_ENABLED: False}, restore_defaults={PREFECT_API_URL}):
        with api_warm_start(["rotaflow_no_such_module_to_import"]) as started:
            assert started is False
        assert SubprocessASGIServer().server_process is None
    assert "rotaflow_no_such_module_to_import" not in sys.modules


def test_the_start_runs_with_the_callers_settings_and_a_failed_start_leaves_no_api_process() -> None:
    # a start-up timeout of 0 s makes the start fail at once, but only where the caller's settings apply
    server = SubprocessASGIServer()
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 0}, restore_defaults={PREFECT_API_URL}):
        try:
            with api_warm_start([]) as started:
                assert started is True
            assert not server.running
            assert server.server_process is None  # stopped, not left serving
        finally:
            server.stop()
