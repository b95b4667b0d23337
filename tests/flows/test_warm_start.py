"""The temporary Prefect API started while a command loads its modules (rotaflow.flows.warm)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import prefect.context
import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_SERVER_EPHEMERAL_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)

from rotaflow.errors import RotaflowError
from rotaflow.flows import warm
from rotaflow.flows.warm import TemporaryApi, api_warm_start, run_settings


@pytest.fixture
def own_settings() -> Iterator[None]:
    """A start that succeeds names its API in the environment and in Prefect's process-wide settings; both are
    put back afterwards (the session's test API, tests/conftest.py ``prefect_api``, is named there)."""
    named = os.environ.get("PREFECT_API_URL")
    global_context = prefect.context.GLOBAL_SETTINGS_CONTEXT
    yield
    if named is None:
        os.environ.pop("PREFECT_API_URL", None)
    else:
        os.environ["PREFECT_API_URL"] = named
    prefect.context.GLOBAL_SETTINGS_CONTEXT = global_context


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[TemporaryApi]:
    """Every TemporaryApi started, stopped at the end of the test."""
    started: list[TemporaryApi] = []
    start = TemporaryApi.start

    def spy(self: TemporaryApi) -> None:
        started.append(self)
        start(self)

    monkeypatch.setattr(TemporaryApi, "start", spy)
    yield started
    for api in started:
        api.stop()


def test_with_an_api_named_nothing_is_started_or_imported(starts: list[TemporaryApi]) -> None:
    assert PREFECT_API_URL.value()  # the session's test API
    with api_warm_start(["rotaflow_no_such_module_to_import"]) as api:
        assert api is None
    assert "rotaflow_no_such_module_to_import" not in sys.modules
    assert starts == []


def test_with_temporary_servers_disabled_nothing_is_started_or_imported(starts: list[TemporaryApi]) -> None:
    disabled = temporary_settings({PREFECT_SERVER_EPHEMERAL_ENABLED: False}, restore_defaults={PREFECT_API_URL})
    with disabled, api_warm_start(["rotaflow_no_such_module_to_import"]) as api:
        assert api is None
    assert "rotaflow_no_such_module_to_import" not in sys.modules
    assert starts == []


def test_without_an_api_the_temporary_one_answers_when_the_block_ends_and_prefect_names_it(
    own_settings: None, starts: list[TemporaryApi]
) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not PREFECT_API_URL.value()
        with api_warm_start(["json", "rotaflow_no_such_module_to_import"]) as api:
            assert api is not None and api.process is not None
        assert api.process is not None and api.process.poll() is None
        assert httpx.get(f"{api.url}/health", timeout=30).status_code == 200
    assert "json" in sys.modules
    assert os.environ["PREFECT_API_URL"] == api.url
    assert prefect.context.GLOBAL_SETTINGS_CONTEXT.settings.api.url == api.url  # what Prefect's threads read
    assert starts == [api]
    api.stop()
    assert api.process is None
    api.stop()  # once stopped, nothing to do


def test_an_api_that_does_not_answer_in_time_is_stopped_and_the_command_ends_with_an_error(
    own_settings: None, starts: list[TemporaryApi]
) -> None:
    before = os.environ.get("PREFECT_API_URL")
    no_time = temporary_settings(
        {PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 0}, restore_defaults={PREFECT_API_URL}
    )
    with no_time, pytest.raises(RotaflowError, match="did not answer within 0 s"), api_warm_start([]):
        pass
    [api] = starts
    assert api.process is None  # stopped, not left serving
    assert os.environ.get("PREFECT_API_URL") == before  # nothing named


def test_an_error_in_the_block_stops_the_api_at_once(own_settings: None, starts: list[TemporaryApi]) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(KeyError), api_warm_start([]):
        raise KeyError("the command's own error")
    [api] = starts
    assert api.process is None


def test_a_port_taken_before_the_api_listens_on_it_starts_the_api_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        free = warm._free_port
        monkeypatch.setattr(warm, "_free_port", lambda: next(ports, None) or free())
        api = TemporaryApi()
        api.start()
        try:
            assert api.wait(120)
            assert api.port != taken.getsockname()[1]
            assert httpx.get(f"{api.url}/health", timeout=30).status_code == 200
        finally:
            api.stop()


def test_an_api_whose_process_ends_is_not_waited_for() -> None:
    api = TemporaryApi({**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": "not-a-database-url://"})
    api.start()
    try:
        assert api.wait(120) is False
    finally:
        api.stop()


def test_run_settings_turn_heartbeats_off_on_the_temporary_api_only() -> None:
    default = PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()
    assert default is not None
    with run_settings(None):
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == default
    with run_settings(TemporaryApi()):
        assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() is None
    assert PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value() == default


def test_a_command_runs_its_flows_on_the_api_without_importing_prefects_server_or_sending_heartbeats(
    tmp_path: Path,
) -> None:
    code = """
        import sys
        from rotaflow.flows.warm import api_warm_start, run_settings

        with api_warm_start([]) as api:
            from prefect import flow
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

        @flow
        def heartbeat():
            return PREFECT_FLOWS_HEARTBEAT_FREQUENCY.value()

        with run_settings(api):
            state = heartbeat(return_state=True)
        print(state.is_completed(), state.result(), "prefect.server.api.server" in sys.modules)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.update(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", PREFECT_LOGGING_TO_API_ENABLED="false")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["True", "None", "False"]
