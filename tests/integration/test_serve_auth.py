"""The Prefect server `rotaflow serve` starts binds to loopback and refuses unauthenticated API requests."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rotaflow.serve import Served, auth_string, mask_secret
from tests.integration.conftest import _free_port


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


AUTH = "rotaflow:pw-of-the-ui"
FOLDER = "sample-2027-B01-1a2b3c4d"
SITE = "gx/gx/uncommitted/data_docs/local_site"


@pytest.fixture
def var(tmp_path: Path) -> Path:
    """var/ with one run's files (its calendars, a dotfile and a file not on the list among them), a Data Docs
    site (with a dotfile), GX's own files beside the site, a secret beside var/runs and a symlink out."""
    var = tmp_path / "var"
    folder = var / "runs" / FOLDER
    (folder / "calendars").mkdir(parents=True)
    (folder / "report.html").write_text("<h1>report</h1>")
    (folder / "summary.json").write_text("{}")
    (folder / "calendars" / "R1.ics").write_text("BEGIN:VCALENDAR\nX-WR-CALNAME:Dr Alice Example\n")
    (folder / "calendars" / "report.html").write_text("a name")
    (folder / ".rotaflow-run.json").write_text("{}")
    (folder / "notes.txt").write_text("not a report file")
    (var / "secret.txt").write_text("rotaflow's own data")
    (folder / "escape").symlink_to(var)
    site = var / SITE
    (site / "static" / "styles").mkdir(parents=True)
    (site / "index.html").write_text("<h1>Data Docs</h1>")
    (site / "static" / "styles" / "site.css").write_text("body {}")
    (site / ".hidden.html").write_text("hidden")
    (site / "notes.txt").write_text("not a site file")
    (var / "gx" / "gx" / "great_expectations.yml").write_text("config_version: 4")
    return var


@pytest.fixture
def port(var: Path) -> Iterator[int]:
    from rotaflow.serve import reports_server

    server = reports_server(var, 0, AUTH)
    try:
        assert server.server_address[0] == "127.0.0.1"
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _get(
    port: int, path: str, *, host: str | None = None, auth: str | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a request sent with ``path`` exactly as given (no client-side
    normalisation of ``..``), to ``Host: 127.0.0.1:<port>`` unless told, with ``auth`` as Basic credentials."""
    import base64
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host != "":
            connection.putheader("Host", host or f"127.0.0.1:{port}")
        if auth is not None:
            connection.putheader("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def _token() -> str:
    from rotaflow.serve import reports_token

    return reports_token(AUTH)


def test_the_reports_server_gives_run_files_to_the_token_or_the_ui_credential(port: int) -> None:
    token = _token()
    assert token not in AUTH and len(token) == 32
    status, headers, body = _get(port, f"/{token}/runs/{FOLDER}/report.html")
    assert (status, body) == (200, b"<h1>report</h1>")
    assert headers["content-type"].startswith("text/html") and headers["referrer-policy"] == "no-referrer"
    assert _get(port, f"/{token}/runs/{FOLDER}/summary.json")[0] == 200
    assert _get(port, f"/runs/{FOLDER}/report.html", auth=AUTH)[:3:2] == (200, b"<h1>report</h1>")
    assert _get(port, f"/{token}/runs/{FOLDER}/report.html", method="HEAD")[:3:2] == (200, b"")
    for path, auth in [
        (f"/runs/{FOLDER}/report.html", None),  # neither token nor credential
        (f"/runs/{FOLDER}/report.html", "rotaflow:wrong"),
        (f"/runs/{FOLDER}/report.html", AUTH.upper()),
        (f"/{token[:-1]}x/runs/{FOLDER}/report.html", None),
        (f"/{token}runs/{FOLDER}/report.html", None),
        (f"/{token}", None),
    ]:
        status, headers, body = _get(port, path, auth=auth)
        assert status == 401 and headers["www-authenticate"].startswith("Basic realm="), path
        assert body == b""
    assert _get(port, f"/runs/{FOLDER}/report.html", auth="not base64 at all")[0] == 401


def test_the_reports_server_answers_to_its_loopback_names_only(port: int) -> None:
    token = _token()
    path = f"/{token}/runs/{FOLDER}/report.html"
    assert _get(port, path, host=f"localhost:{port}")[0] == 200
    assert _get(port, path, host=f"LOCALHOST:{port}")[0] == 200
    for host in ["evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", f"127.0.0.2:{port}", ""]:
        status, _, body = _get(port, path, host=host)
        assert status == 403 and b"report" not in body.replace(b"report file", b""), host  # DNS rebinding
        assert _get(port, f"/runs/{FOLDER}/report.html", host=host, auth=AUTH)[0] == 403, host


def test_the_reports_server_never_gives_out_calendars_dotfiles_or_other_files(port: int) -> None:
    token = _token()
    refused = [
        f"/runs/{FOLDER}/calendars/R1.ics",  # each carries the person's name
        f"/runs/{FOLDER}/calendars/report.html",
        f"/runs/{FOLDER}/.rotaflow-run.json",
        f"/runs/{FOLDER}/notes.txt",
        f"/runs/{FOLDER}/%2erotaflow-run.json",
        "/runs/../secret.txt",
        "/runs/%2e%2e/secret.txt",
        f"/runs/{FOLDER}/../../secret.txt",
        f"/runs/{FOLDER}/%2e%2e%2f%2e%2e%2fsecret.txt",
        f"/runs/{FOLDER}/escape/secret.txt",  # a symlink out of var/runs
        f"/runs/{FOLDER}/escape/runs/{FOLDER}/report.html",  # a symlink back in: not the file's own path
        f"/runs/{FOLDER}/",  # no listing
        "/runs/",
        "/secret.txt",
        "/../secret.txt",
        f"/{SITE}/.hidden.html",
        f"/{SITE}/notes.txt",
        f"/{SITE}/",
        "/gx/gx/great_expectations.yml",
    ]
    for path in refused:
        assert _get(port, f"/{token}{path}")[0] == 404, path
        assert _get(port, path, auth=AUTH)[0] == 404, path
    assert _get(port, f"/{token}/runs/{FOLDER}/report.html", method="PUT")[0] == 501  # read-only
    assert _get(port, f"/{token}/runs/{FOLDER}/report.html", method="POST")[0] == 501


def test_the_reports_server_gives_out_the_data_docs_site_at_its_place_under_var(port: int) -> None:
    token = _token()
    status, headers, body = _get(port, f"/{token}/{SITE}/index.html")
    assert (status, body) == (200, b"<h1>Data Docs</h1>") and headers["content-type"].startswith("text/html")
    status, headers, _ = _get(port, f"/{SITE}/static/styles/site.css", auth=AUTH)
    assert status == 200 and headers["content-type"].startswith("text/css")


def test_artifacts_link_served_files_through_the_reports_server_or_show_the_path(
    var: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.configs.settings import get_settings
    from rotaflow.tasks.links import REPORTS_URL_ENV, file_link, markdown_link

    monkeypatch.setenv("ROTAFLOW_VAR_DIR", str(var))
    monkeypatch.delenv("ROTAFLOW_GX_DIR", raising=False)
    get_settings.cache_clear()
    report = var / "runs" / FOLDER / "report.html"
    monkeypatch.delenv(REPORTS_URL_ENV, raising=False)
    assert file_link(report) is None
    assert markdown_link(report) == f"`{report.resolve()}`"  # a plain CLI run: the path as text, never file://
    base = f"http://127.0.0.1:4201/{_token()}"
    monkeypatch.setenv(REPORTS_URL_ENV, base)
    assert file_link(report) == f"{base}/runs/{FOLDER}/report.html"
    assert markdown_link(report) == f"[report.html]({base}/runs/{FOLDER}/report.html)"
    assert file_link(var / SITE / "index.html") == f"{base}/{SITE}/index.html"
    assert file_link(var / "secret.txt") is None  # not served, not linked
    assert file_link(var.parent / "elsewhere" / "report.html") is None  # an --out folder outside var/
    assert file_link(var / "runs" / "report.html") is None  # not in a run folder
    assert file_link(var / SITE) is None and file_link(var / SITE / "notes.txt") is None
    assert file_link(var / "runs" / FOLDER / "calendars" / "R1.ics") is None
    assert file_link(var / "runs" / FOLDER / ".rotaflow-run.json") is None
    assert markdown_link(var / "runs" / FOLDER / "notes.txt") == f"`{(var / 'runs' / FOLDER / 'notes.txt').resolve()}`"


def test_report_html_s_data_docs_link_resolves_over_http_as_on_disk(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real validation written into var/runs with its Data Docs under var/gx: the report's relative link, its
    Data Docs page and that page's stylesheet all answer through the reports server."""
    import re
    from urllib.parse import urljoin

    from rotaflow.configs.settings import get_settings
    from rotaflow.serve import reports_server
    from rotaflow.services import validate as validation_service
    from rotaflow.services.ingest import load_bundle
    from rotaflow.tasks.links import REPORTS_URL_ENV, file_link
    from rotaflow.validations.schedule import load_schedule, read_schedule_file
    from tests.schedules import make_solvable, solved_schedule

    var = get_settings().var_dir
    program = make_solvable(tiny_dir)
    schedule = solved_schedule(program, "B1", tiny_dir.parent / "assignments.csv")
    bundle = load_bundle(str(program))
    frame = load_schedule(bundle, read_schedule_file(schedule), file=schedule.name)
    validation = validation_service.validate(bundle, frame, block_id="B1", contingency="none")
    facts = validation_service.validation_facts("tiny", "assignments.csv", "B1", run={"run_id": "run-7"})
    out = var / "runs" / "tiny-B1-run-7"
    written = validation_service.write_validation(out, validation, bundle, summary=facts, gx_dir=var / "gx")
    assert written.docs_page is not None
    href = re.search(r'<a href="([^"]+)"[^>]*>Great Expectations Data Docs<', (out / "report.html").read_text("utf-8"))
    assert href is not None and not href.group(1).startswith(("/", "http", "file:"))
    assert (out / href.group(1)).resolve() == written.docs_page.resolve()  # from disk

    server = reports_server(var, 0, AUTH)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/{_token()}"
        report = f"{base}/runs/tiny-B1-run-7/report.html"
        with httpx.Client(timeout=10) as client:
            assert client.get(report).status_code == 200
            page = client.get(urljoin(report, href.group(1)))  # over HTTP, as the browser resolves it
            assert page.status_code == 200 and "Data Docs of tiny-run-7" in page.text
            styles = re.findall(r'<link[^>]+href="([^"]+\.css)"', page.text)
            assert styles and all(client.get(urljoin(str(page.url), css)).status_code == 200 for css in styles)
            monkeypatch.setenv(REPORTS_URL_ENV, base)
            assert file_link(written.docs_page) == str(page.url)  # the validation-data-docs artifact's link
    finally:
        server.shutdown()
        server.server_close()


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


@pytest.mark.parametrize(
    ("value", "port"),
    [(None, 4201), ("", 4201), (" 4301 ", 4301), ("0", 0), ("65535", 65535), ("1", 1)],
)
def test_the_reports_port_setting(value: str | None, port: int) -> None:
    from rotaflow.serve import reports_port_setting

    assert reports_port_setting(value) == (port, None)


@pytest.mark.parametrize("value", ["abc", "4201x", "70000", "65536", "-1", "99999999999999999999", "4.2"])
def test_a_reports_port_that_is_no_port_is_a_warning_and_no_reports_server(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.serve import ServeConfig, Served, _reports_base, _start_reports

    monkeypatch.setenv("ROTAFLOW_REPORTS_PORT", value)
    lines: list[str] = []
    config = ServeConfig(home=tmp_path, log=lines.append)  # no ValueError, no OverflowError
    assert config.reports_port == 0
    served = Served(config, AUTH, "test", server=None)  # type: ignore[arg-type]
    _start_reports(served)
    assert served.reports is None and _reports_base(served) is None
    assert lines == [
        f"warning: no reports server: ROTAFLOW_REPORTS_PORT={value!r} is not a port (1-65535, or 0 for none); "
        "the artifacts show the reports' paths instead of links"
    ]
    assert ServeConfig(home=tmp_path, reports_port=4301, log=lines.append).reports_port == 4301  # given: kept
    assert ServeConfig(home=tmp_path, reports_port=70000).reports_port == 0


def test_the_runs_link_with_the_reports_server_s_port_and_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rotaflow.serve import ServeConfig, Served, _reports_base, _start_reports, reports_token

    monkeypatch.setenv("ROTAFLOW_REPORTS_PORT", "0")
    assert ServeConfig(home=tmp_path).reports_port == 0  # 0: off, no warning
    lines: list[str] = []
    config = ServeConfig(home=tmp_path, reports_port=_free_port(), log=lines.append)
    served = Served(config, AUTH, "test", server=None)  # type: ignore[arg-type]
    _start_reports(served)
    try:
        assert served.reports is not None and lines == []
        assert _reports_base(served) == f"http://127.0.0.1:{config.reports_port}/{reports_token(AUTH)}"
        assert reports_token("rotaflow:another") != reports_token(AUTH)
    finally:
        if served.reports is not None:
            served.reports.shutdown()
            served.reports.server_close()
