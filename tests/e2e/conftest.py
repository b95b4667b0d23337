"""One real rotaflow stack for the end-to-end tests: Prefect server, work pool, every deployment, a worker.

``rotaflow.serve.bring_up`` starts it once for tests/e2e on a free loopback port with a temporary
``PREFECT_HOME`` and API authentication, registers the deployments of prefect.yaml and starts a
process worker. Nothing is mocked: flow runs are real subprocesses of the worker, solving and
publishing into a real database.

The environment of the server, ``prefect deploy`` and the worker (so of every flow run) is fixed
here, once (``ServeConfig.extra_env``), never read from ``os.environ`` of a test (tests/conftest.py
changes ROTAFLOW_VAR_DIR per test):

* ``ROTAFLOW_DATABASE_URL``: a fresh PostgreSQL database, migrated and filled with the tiny bundle
  (dropped at the end, with every database rotaflow made beside it), on the session's server
  (ROTAFLOW_TEST_POSTGRES_URL as tests/conftest.py resolves it: the given one, else the machine's,
  else an embedded one); a SQLite file only when no server could be had (the tests that need
  PostgreSQL skip then);
* ``ROTAFLOW_VAR_DIR`` / ``ROTAFLOW_OBJECT_STORE``: a folder of this session (runs, backups, journals);
* ``ROTAFLOW_SECRET_KEY``: a random key (required beside a non-embedded database);
* the server's scheduler is off, so the deployments' own schedules never start a run mid-test, and
  the worker polls every 2 s (default 10 s).

When something fails, ``Stack.diagnosis`` gives the tails of the server, deploy and worker logs and
the flow runs' own logs (API ``/logs/filter``); the helpers put it into their assertion messages.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from rotaflow.configs.settings import Settings
from rotaflow.serve import ServeConfig, Served, bring_up, shut_down

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
TERMINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
STARTUP_TIMEOUT = 240.0  # a loaded 2-core machine: the server alone can take 30 s


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Retrying(httpx.HTTPTransport):
    """Retry what the Prefect server says to retry (503 when its SQLite database is busy), as Prefect's client does."""

    RETRY = frozenset({429, 502, 503})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(6):
            response = super().handle_request(request)
            if response.status_code not in self.RETRY or attempt == 5:
                return response
            response.close()
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")


def _tail(path: Path, chars: int = 6000) -> str:
    if not path.is_file():
        return f"({path} does not exist)"
    text_ = path.read_text(errors="replace")
    return text_[-chars:]


@dataclass
class Stack:
    """The running stack and what its flow runs see."""

    served: Served
    env: dict[str, str]
    live_url: str
    var_dir: Path
    postgres: bool

    # ------------------------------------------------------------------ API

    def client(self) -> httpx.Client:
        user, _, password = self.served.auth.partition(":")
        return httpx.Client(
            base_url=self.served.config.api_url, auth=(user, password), timeout=30.0, transport=_Retrying()
        )

    def settings(self) -> Settings:
        """The settings the flow runs use, for the test's own in-process calls."""
        return Settings(
            var_dir=self.var_dir,
            database_url=self.live_url,
            object_store=self.env["ROTAFLOW_OBJECT_STORE"],
            secret_key=self.env["ROTAFLOW_SECRET_KEY"],
        )

    def deployment(self, flow: str, name: str) -> dict[str, Any]:
        with self.client() as client:
            found = client.get(f"/deployments/name/{flow}/{name}")
        assert found.status_code == 200, f"deployment {flow}/{name}: HTTP {found.status_code} {found.text[:300]}"
        return dict(found.json())

    def create_flow_run(self, deployment_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
        with self.client() as client:
            made = client.post(f"/deployments/{deployment_id}/create_flow_run", json={"parameters": parameters})
        assert made.status_code == 201, f"create_flow_run: HTTP {made.status_code} {made.text[:500]}"
        return dict(made.json())

    def flow_run(self, flow_run_id: str) -> dict[str, Any]:
        with self.client() as client:
            found = client.get(f"/flow_runs/{flow_run_id}")
        found.raise_for_status()
        return dict(found.json())

    def flow_runs(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        with self.client() as client:
            found = client.post("/flow_runs/filter", json=body)
        found.raise_for_status()
        return list(found.json())

    def child_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        """The subflow runs of a flow run, each with its flow's name under ``flow_name``."""
        runs = self.flow_runs({"flow_runs": {"parent_flow_run_id": {"any_": [flow_run_id]}}})
        with self.client() as client:
            for run in runs:
                run["flow_name"] = client.get(f"/flows/{run['flow_id']}").json()["name"]
        return runs

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        with self.client() as client:
            found = client.post("/task_runs/filter", json={"flow_runs": {"id": {"any_": [flow_run_id]}}})
        found.raise_for_status()
        return list(found.json())

    def artifacts(self, flow_run_ids: Iterable[str]) -> list[dict[str, Any]]:
        with self.client() as client:
            found = client.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": list(flow_run_ids)}}})
        found.raise_for_status()
        return list(found.json())

    def wait_for_state(self, flow_run_id: str, states: Iterable[str], timeout: float) -> dict[str, Any]:
        """Poll the flow run until its state type is one of ``states`` (or it ends); fail with the logs."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        run = self.flow_run(flow_run_id)
        while time.monotonic() < deadline:
            run = self.flow_run(flow_run_id)
            if run["state_type"] in wanted:
                return run
            if run["state_type"] in TERMINAL:
                break
            if self.served.worker is not None and self.served.worker.poll() is not None:
                break
            time.sleep(0.5)
        raise AssertionError(
            f"flow run {run['name']} is {run['state_type']} ({run['state']['message'] if run['state'] else ''}),"
            f" not one of {sorted(wanted)} (waited up to {timeout:.0f} s)\n{self.diagnosis(flow_run_id)}"
        )

    # ------------------------------------------------------------------ diagnosis

    def flow_run_logs(self, flow_run_id: str) -> str:
        ids = [flow_run_id] + [
            r["id"] for r in self.flow_runs({"flow_runs": {"parent_flow_run_id": {"any_": [flow_run_id]}}})
        ]
        with self.client() as client:
            found = client.post(
                "/logs/filter",
                json={"logs": {"flow_run_id": {"any_": ids}}, "sort": "TIMESTAMP_DESC", "limit": 200},
            )
        if found.status_code != 200:
            return f"(logs: HTTP {found.status_code})"
        last = reversed(found.json())  # the last 200, oldest first
        return "\n".join(f"{log['timestamp'][11:23]} {log['level']:>2} {log['message']}" for log in last)

    def diagnosis(self, flow_run_id: str | None = None) -> str:
        logs = self.served.config.home / "logs"
        parts = [
            f"--- server log ({logs / 'server.log'}) ---\n{_tail(logs / 'server.log', 3000)}",
            f"--- deploy log ---\n{_tail(logs / 'deploy.log', 2000)}",
            f"--- worker log (with the flow runs' output) ---\n{_tail(logs / 'worker.log', 8000)}",
        ]
        if flow_run_id:
            try:
                parts.append(
                    f"--- logs of flow run {flow_run_id} and its subflows ---\n{self.flow_run_logs(flow_run_id)}"
                )
            except httpx.HTTPError as exc:
                parts.append(f"(the flow run's logs could not be read: {exc})")
        return "\n".join(parts)


# --------------------------------------------------------------------------- the live database


def _create_postgres(server: str) -> str:
    name = f"rotaflow_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(server: str, url: str) -> None:
    """The live database and every one rotaflow made beside it (``<name>__restore_…``, ``__pre_…``)."""
    name = str(make_url(url).database)
    pattern = name.replace("_", "\\_") + "%"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        found = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": pattern})
        for leftover in list(found.scalars()):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)'))
    admin.dispose()


# --------------------------------------------------------------------------- the stack


@pytest.fixture(scope="package")  # stopped once tests/e2e is done, not at the end of a whole-suite run
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from rotaflow.db.session import dispose_engines
    from tests.backups_fixtures import fill_database

    base = tmp_path_factory.mktemp("e2e")
    var_dir = base / "var"
    var_dir.mkdir()
    server = os.environ.get("ROTAFLOW_TEST_POSTGRES_URL")  # resolved for the session by tests/conftest.py
    live = _create_postgres(server) if server else f"sqlite:///{(var_dir / 'rotaflow.db').as_posix()}"
    try:
        fill_database(live)  # migrated to head, the tiny program stored
        dispose_engines()
        env = {
            "ROTAFLOW_DATABASE_URL": live,
            "ROTAFLOW_VAR_DIR": str(var_dir),
            "ROTAFLOW_OBJECT_STORE": str(var_dir / "objects"),
            "ROTAFLOW_SECRET_KEY": secrets.token_urlsafe(48),
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "2",  # every poll writes to the server's SQLite: not every second
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",  # the server logs what it answers 503 to
        }
        home = base / "prefect"
        config = ServeConfig(
            port=_free_port(),
            home=home,
            startup_timeout=STARTUP_TIMEOUT,
            log=lambda line: None,
            extra_env=env,
            worker_log=home / "logs" / "worker.log",
        )
        started = time.monotonic()
        try:
            served = bring_up(config)
        except (RuntimeError, TimeoutError) as exc:
            logs = home / "logs"
            raise RuntimeError(
                f"the e2e stack did not come up: {exc}\n--- server log ---\n{_tail(logs / 'server.log')}"
                f"\n--- deploy log ---\n{_tail(logs / 'deploy.log')}\n--- worker log ---\n{_tail(logs / 'worker.log')}"
            ) from exc
        print(f"\ne2e stack up in {time.monotonic() - started:.1f} s: {served.timings} at {config.ui_url}")
        try:
            yield Stack(served, env, live, var_dir, postgres=server is not None)
        finally:
            shut_down(served)
    finally:
        dispose_engines()
        if server:
            _drop_postgres(server, live)


@pytest.fixture
def screenshot_dirs(tmp_path: Path) -> list[Path]:
    """Where each step's screenshot goes: var/screenshots/ of the project and the test's tmp_path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return [SCREENSHOTS, tmp_path]
