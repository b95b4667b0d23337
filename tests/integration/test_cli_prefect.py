"""The CLI's own Prefect defaults and its use of a running `rotaflow serve` server.

Each test runs ``rotaflow`` as a user does: a subprocess whose environment has no PREFECT_* variable
(unless the test sets one), so what the CLI prints and where its flow runs go is decided by the CLI
alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rotaflow.serve import Served

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny"
PREFECT_LOG_LINE = re.compile(r"\|\s*(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\|")

pytestmark = pytest.mark.flow


def _clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "ROTAFLOW_"))}
    env.update(ROTAFLOW_VAR_DIR=str(var_dir), **extra)
    return env


def _ingest(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "rotaflow"), "ingest", "--program", str(TINY), "--json"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _assert_quiet(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "telemetry" not in done.stderr.lower(), done.stderr[-3000:]
    assert not PREFECT_LOG_LINE.search(done.stderr), done.stderr[-3000:]
    payload = json.loads(done.stdout)
    assert isinstance(payload, dict)
    return payload


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_flow_run_from_the_cli_prints_only_rotaflows_lines_and_keeps_prefects_home_private(tmp_path: Path) -> None:
    """No telemetry errors, no Prefect log lines, no temporary server's traceback. Prefect's home is under
    var/; its database holds the runs' parameters and artifacts, so var/ and the home are 0700 and
    prefect.db 0600 whatever the umask, made so by the CLI before the temporary server creates the
    database. (One CLI run for both: each starts a temporary Prefect server.)"""
    var_dir = tmp_path / "var"
    command = [str(Path(sys.executable).parent / "rotaflow"), "ingest", "--program", str(TINY), "--json"]
    done = subprocess.run(
        command, env=_clean_env(var_dir), cwd=ROOT, capture_output=True, text=True, timeout=600, umask=0o022
    )
    payload = _assert_quiet(done)
    assert payload["program"] and payload["new_version"] is True
    assert (var_dir / "prefect" / "prefect.db").is_file()  # PREFECT_HOME defaults under rotaflow's var dir
    assert (_mode(var_dir), _mode(var_dir / "prefect")) == (0o700, 0o700)
    assert _mode(var_dir / "prefect" / "prefect.db") == 0o600
    assert [p.name for p in (var_dir / "prefect").glob("prefect.db*") if _mode(p) & 0o077] == []


def test_a_prefect_database_made_readable_earlier_is_made_the_owners_alone(tmp_path: Path) -> None:
    home = tmp_path / "var" / "prefect"
    home.mkdir(parents=True)
    (home / "prefect.db").write_bytes(b"")
    os.chmod(home / "prefect.db", 0o644)
    rotaflow = str(Path(sys.executable).parent / "rotaflow")
    done = subprocess.run([rotaflow, "--help"], env=_clean_env(tmp_path / "var"), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _mode(home / "prefect.db") == 0o600


def test_prefect_defaults_leave_what_the_user_set(tmp_path: Path) -> None:
    from rotaflow.cli import prefect_defaults

    given = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "DEBUG", "PREFECT_HOME": "/somewhere"}
    defaults = prefect_defaults(given, tmp_path)
    assert "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL" not in defaults and "PREFECT_HOME" not in defaults
    assert "PREFECT_LOGGING_LEVEL" not in defaults  # the runs' INFO lines still reach the API (the UI)
    assert defaults["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert defaults["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "120"
    assert prefect_defaults({}, tmp_path)["PREFECT_HOME"] == str(tmp_path / "prefect")


def test_a_recorded_server_that_does_not_answer_is_not_used(tmp_path: Path) -> None:
    """A stale record (the server stopped without removing it): the CLI falls back to a temporary server, fast."""
    from rotaflow.cli import running_server
    from rotaflow.serve import API_URL_FILE

    home = tmp_path / "prefect"
    home.mkdir()
    (home / API_URL_FILE).write_text("http://127.0.0.1:9/api\n")  # the discard port: nothing answers
    (home / "auth-string").write_text("rotaflow:secret\n")
    started = time.monotonic()
    assert running_server(home) is None
    assert time.monotonic() - started < 3
    assert running_server(tmp_path / "nowhere") is None  # no record at all


def test_a_flow_run_from_the_cli_goes_to_the_running_server(prefect_server: Served, tmp_path: Path) -> None:
    """With `rotaflow serve` up (it records its API URL), the CLI's flow runs are the server's (so in its UI)."""
    from rotaflow.cli import running_server
    from rotaflow.serve import API_URL_FILE

    home = prefect_server.config.home
    assert (home / API_URL_FILE).read_text().strip() == prefect_server.config.api_url
    assert running_server(home) == (prefect_server.config.api_url, prefect_server.auth)

    done = _ingest(_clean_env(tmp_path / "var", PREFECT_HOME=str(home)))
    _assert_quiet(done)
    with prefect_server.client() as client:
        flows = client.post("/flows/filter", json={"flows": {"name": {"any_": ["ingest-program"]}}}).json()
        assert len(flows) == 1, flows
        found = client.post("/flow_runs/filter", json={"flows": {"id": {"any_": [flows[0]["id"]]}}})
    assert found.status_code == 200, found.text
    runs = found.json()
    assert [run["state_type"] for run in runs] == ["COMPLETED"]
    # quiet on the terminal, but the run's page in the UI has its INFO lines
    with prefect_server.client() as client:
        logs = client.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [runs[0]["id"]]}}}).json()
    assert any(entry["level"] == 20 for entry in logs), logs


def test_record_api_url_names_a_loopback_address_for_a_wildcard_bind(tmp_path: Path) -> None:
    from rotaflow.serve import API_URL_FILE, ServeConfig, record_api_url

    record_api_url(ServeConfig(host="0.0.0.0", port=4321, home=tmp_path))
    assert (tmp_path / API_URL_FILE).read_text().strip() == "http://127.0.0.1:4321/api"


def test_the_running_server_answers_health_without_credentials(prefect_server: Served) -> None:
    """What `running_server` relies on: /health answers without credentials, the rest of the API only with them."""
    assert httpx.get(f"{prefect_server.config.api_url}/health", timeout=5).status_code == 200
    assert httpx.post(f"{prefect_server.config.api_url}/flows/filter", json={}, timeout=5).status_code == 401
