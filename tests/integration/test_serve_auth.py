"""The Prefect server `rotaflow serve` starts binds to loopback and refuses unauthenticated API requests."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest

from rotaflow.serve import Served, auth_string, mask_secret


@pytest.fixture
def served(prefect_server: Served) -> Served:
    return prefect_server


def test_the_credential_file_is_private_and_never_shown_whole(served: Served) -> None:
    path = Path(served.auth_source)
    assert path.parent == served.config.home
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == served.auth
    assert served.auth.split(":", 1)[1] not in mask_secret(served.auth)
    assert auth_string(served.config.home) == (served.auth, served.auth_source)  # reused, not regenerated


def test_the_server_has_its_own_database(served: Served) -> None:
    assert served.config.database_file.is_file()
    assert served.config.database_file.parent == served.config.home


def test_unauthenticated_requests_are_refused(served: Served) -> None:
    api = served.config.api_url
    assert served.config.host == "127.0.0.1"
    assert httpx.post(f"{api}/deployments/filter", json={}).status_code == 401
    assert httpx.post(f"{api}/deployments/filter", json={}, auth=("rotaflow", "wrong")).status_code == 401
    with served.client() as client:
        assert client.post("/deployments/filter", json={}).status_code == 200
        assert client.get("/work_pools/rotaflow-process").status_code == 404


def test_the_server_listens_on_loopback_only(served: Served) -> None:
    port = served.config.port
    outward = socket.gethostbyname(socket.gethostname())
    if outward.startswith("127."):
        pytest.skip("this machine has no non-loopback address to try")
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(2)
        sock.connect((outward, port))


def test_the_server_can_keep_its_own_postgresql_database(postgres_url: str, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    from rotaflow.serve import ServeConfig, Served, shut_down, start_server, wait_until_healthy
    from tests.integration.conftest import _free_port

    prefect_url = make_url(postgres_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    config = ServeConfig(port=_free_port(), home=tmp_path, deploy=False, worker=False, database_url=prefect_url)
    auth, source = auth_string(tmp_path)
    served = Served(config, auth, source, start_server(config, auth))
    try:
        wait_until_healthy(config, served.server, 90)
        with served.client() as client:
            assert client.post("/deployments/filter", json={}).status_code == 200
        engine = create_engine(postgres_url)
        try:
            assert {"flow_run", "deployment", "work_pool"} <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert not config.database_file.exists()  # no SQLite file beside it
    finally:
        shut_down(served)


def test_the_server_refuses_rotaflow_s_own_database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.serve import ServeConfig, _check_database_apart

    with_password = postgres_url.replace("postgres@", "postgres:s3cret-pw@")
    monkeypatch.setenv("ROTAFLOW_DATABASE_URL", with_password)
    get_settings.cache_clear()
    same = with_password.replace("postgresql+psycopg", "postgresql+asyncpg")
    with pytest.raises(RuntimeError, match="names rotaflow's own database") as caught:
        _check_database_apart(ServeConfig(database_url=same))
    assert "s3cret-pw" not in str(caught.value) and "***" in str(caught.value)
    _check_database_apart(ServeConfig(database_url=same.rsplit("/", 1)[0] + "/prefect_elsewhere"))


# --------------------------------------------------------------------------- the reports server, the worker's env


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """var/runs with one run's report, a secret beside var/runs and a symlink out of it."""
    folder = tmp_path / "var" / "runs" / "sample-2027-B01-1a2b3c4d"
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<h1>report</h1>")
    (tmp_path / "var" / "secret.txt").write_text("rotaflow's own data")
    (folder / "escape").symlink_to(tmp_path / "var")
    return tmp_path / "var" / "runs"


def _raw_get(port: int, path: str, method: str = "GET") -> int:
    """The status of a request sent with ``path`` exactly as given (no client-side normalisation of ``..``)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_reports_server_serves_run_files_read_only_on_loopback(runs: Path) -> None:
    from rotaflow.serve import reports_server

    server = reports_server(runs, 0)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        answer = httpx.get(f"http://127.0.0.1:{port}/runs/sample-2027-B01-1a2b3c4d/report.html")
        assert answer.status_code == 200 and answer.text == "<h1>report</h1>"
        assert answer.headers["content-type"].startswith("text/html")
        refused = [
            "/runs/../secret.txt",
            "/runs/%2e%2e/secret.txt",
            "/runs/sample-2027-B01-1a2b3c4d/../../secret.txt",
            "/runs/sample-2027-B01-1a2b3c4d/%2e%2e%2f%2e%2e%2fsecret.txt",
            "/runs/sample-2027-B01-1a2b3c4d/escape/secret.txt",  # a symlink out of var/runs
            "/runs/sample-2027-B01-1a2b3c4d/",  # no listing
            "/runs/",
            "/secret.txt",
            "/../secret.txt",
        ]
        for path in refused:
            assert _raw_get(port, path) == 404, path
        assert _raw_get(port, "/runs/sample-2027-B01-1a2b3c4d/report.html", "PUT") == 501  # read-only
    finally:
        server.shutdown()
        server.server_close()


def test_artifacts_link_run_files_through_the_reports_server_or_show_the_path(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.tasks.links import REPORTS_URL_ENV, file_link, markdown_link

    monkeypatch.setenv("ROTAFLOW_VAR_DIR", str(runs.parent))
    get_settings.cache_clear()
    report = runs / "sample-2027-B01-1a2b3c4d" / "report.html"
    monkeypatch.delenv(REPORTS_URL_ENV, raising=False)
    assert file_link(report) is None
    assert markdown_link(report) == f"`{report.resolve()}`"  # a plain CLI run: the path as text, never file://
    monkeypatch.setenv(REPORTS_URL_ENV, "http://127.0.0.1:4201")
    assert file_link(report) == "http://127.0.0.1:4201/runs/sample-2027-B01-1a2b3c4d/report.html"
    assert markdown_link(report) == "[report.html](http://127.0.0.1:4201/runs/sample-2027-B01-1a2b3c4d/report.html)"
    assert file_link(runs.parent / "secret.txt") is None  # outside var/runs: not served, not linked


def test_the_worker_sends_info_logs_to_the_api_and_knows_the_reports_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.serve import ServeConfig, worker_env
    from rotaflow.tasks.links import REPORTS_URL_ENV

    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")  # as `make` or an operator's shell may set it
    env = worker_env(ServeConfig(home=tmp_path), "rotaflow:pw", "http://127.0.0.1:4301")
    assert env["PREFECT_LOGGING_LEVEL"] == "INFO" and env["PREFECT_LOGGING_HANDLERS_API_LEVEL"] == "INFO"
    assert env["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "WARNING"
    assert env[REPORTS_URL_ENV] == "http://127.0.0.1:4301"
    monkeypatch.setenv(REPORTS_URL_ENV, "http://stale")
    assert REPORTS_URL_ENV not in worker_env(ServeConfig(home=tmp_path), "rotaflow:pw")  # no reports server


def test_serve_warns_on_stderr_at_start_when_no_webhook_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import rotaflow.serve as serve_module
    from rotaflow.configs.settings import get_settings

    def stop_here(config: object) -> None:  # the warning comes before anything starts
        raise RuntimeError("not starting in this test")

    monkeypatch.setattr(serve_module, "bring_up", stop_here)
    monkeypatch.delenv("ROTAFLOW_ALERT_WEBHOOK_URL", raising=False)
    get_settings.cache_clear()
    lines: list[str] = []
    config = serve_module.ServeConfig(home=tmp_path, log=lines.append)
    assert serve_module.serve(config) == 1
    err = capsys.readouterr().err
    assert 'every automation\'s action is "do nothing"' in err and "set ROTAFLOW_ALERT_WEBHOOK_URL=" in err
    assert len(err.strip().splitlines()) == 2
    monkeypatch.setenv("ROTAFLOW_ALERT_WEBHOOK_URL", "https://hooks.example.org/T000")
    get_settings.cache_clear()
    assert serve_module.webhook_warning() is None
    assert serve_module.serve(config) == 1
    assert capsys.readouterr().err == ""


def test_a_busy_reports_port_is_a_warning_and_the_runs_get_no_link(tmp_path: Path) -> None:
    from rotaflow.serve import ServeConfig, Served, _start_reports

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        lines: list[str] = []
        config = ServeConfig(home=tmp_path, reports_port=taken.getsockname()[1], log=lines.append)
        served = Served(config, "rotaflow:pw", "test", server=None)  # type: ignore[arg-type]
        _start_reports(served)
    assert served.reports is None
    assert (
        len(lines) == 1 and lines[0].startswith("warning: no reports server:") and "ROTAFLOW_REPORTS_PORT" in lines[0]
    )
