"""``rotaflow serve`` (``make serve``): a local Prefect server, the work pool, the deployments and a worker.

* The server binds to 127.0.0.1 unless told otherwise and keeps its own SQLite database under
  ``PREFECT_HOME`` (default ``var/prefect``), or the PostgreSQL database ``ROTAFLOW_PREFECT_DATABASE_URL``
  names (``postgresql+asyncpg://…``) — never rotaflow's database.
* It requires API authentication (Prefect's ``PREFECT_SERVER_API_AUTH_STRING``; clients and the
  worker send ``PREFECT_API_AUTH_STRING``). The credential is ``ROTAFLOW_PREFECT_AUTH_STRING`` when
  set, else ``<PREFECT_HOME>/auth-string`` (``user:password``, generated once with mode 0600). It is
  never printed in full.
* Then it creates the process work pool ``rotaflow-process``, registers every deployment of
  prefect.yaml (``prefect --no-prompt deploy --all``) and starts a worker on the pool.
* It records its API URL in ``<PREFECT_HOME>/api-url`` while it runs: the CLI's flow runs go to this
  server (and show in its UI) instead of a temporary one of their own.
* It serves the runs' report files and the Data Docs read-only on 127.0.0.1 (``ROTAFLOW_REPORTS_PORT``,
  default 4201): only to a ``Host`` of ``127.0.0.1:<port>`` or ``localhost:<port>``, with the access token
  the worker's runs link with or the API credential (Basic auth); never calendars or dotfiles.
* Ctrl-C (or SIGTERM) stops the worker, then the server.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

from rotaflow.configs.settings import CONFIG_DIR, PROJECT_ROOT, get_settings, mask_url
from rotaflow.tasks.links import REPORTS_URL_ENV, served_path

if TYPE_CHECKING:  # httpx is imported where a server is asked: every command asks, only when one is recorded
    import httpx

__all__ = [
    "API_URL_FILE",
    "POOL",
    "ServeConfig",
    "Served",
    "auth_string",
    "bring_up",
    "exposure_warning",
    "mask_secret",
    "prefect_home",
    "reports_port_setting",
    "reports_server",
    "reports_token",
    "webhook_warning",
    "worker_env",
    "record_api_url",
    "recorded_server",
    "serve",
    "shut_down",
    "start_server",
    "wait_until_healthy",
]

POOL = "rotaflow-process"
AUTH_ENV = "ROTAFLOW_PREFECT_AUTH_STRING"
AUTH_FILE = "auth-string"
AUTH_USER = "rotaflow"
API_URL_FILE = "api-url"
"""Under the server's home, while it runs: the URL its clients on this machine use."""
PROBE_SECONDS = 3.0
"""How long the CLI waits for a recorded server to answer (a server just started takes a second) before it
 starts a temporary one."""
DATABASE_ENV = "ROTAFLOW_PREFECT_DATABASE_URL"
REPORTS_PORT_ENV = "ROTAFLOW_REPORTS_PORT"
REPORTS_PORT = 4201
"""The reports server's default port (on 127.0.0.1 only): ``ROTAFLOW_REPORTS_PORT`` overrides it, 0 turns it off."""
REPORTS_PORT_FROM_ENV = -1
"""``ServeConfig.reports_port`` when not given: ``ROTAFLOW_REPORTS_PORT``, else :data:`REPORTS_PORT`."""
SQLITE_TIMEOUT_SECONDS = 60
"""How long the server's SQLite connections wait for a lock (Prefect's 10 s default gives HTTP 503
"database is locked" under load on a small machine)."""


def prefect_home() -> Path:
    """The Prefect server's home: ``PREFECT_HOME`` when set, else ``<var>/prefect``."""
    env = os.environ.get("PREFECT_HOME")
    return Path(env).expanduser().resolve() if env else (get_settings().var_dir / "prefect").resolve()


def auth_string(home: Path) -> tuple[str, str]:
    """The API credential and where it comes from (the env var's name or the file's path)."""
    given = os.environ.get(AUTH_ENV, "").strip()
    if given:
        return given, AUTH_ENV
    path = home / AUTH_FILE
    if path.is_file():
        path.chmod(0o600)
        value = path.read_text().strip()
        if value:
            return value, str(path)
    home.mkdir(parents=True, exist_ok=True)
    value = f"{AUTH_USER}:{secrets.token_urlsafe(24)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    path.chmod(0o600)
    return value, str(path)


def _stored_auth(home: Path) -> str | None:
    """The credential a server under ``home`` was started with (never generated here)."""
    given = os.environ.get(AUTH_ENV, "").strip()
    if given:
        return given
    path = home / AUTH_FILE
    return (path.read_text().strip() or None) if path.is_file() else None


def record_api_url(config: ServeConfig) -> Path:
    """Write ``<home>/api-url``: where the server answers on this machine (loopback for a wildcard bind)."""
    path = config.home / API_URL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.local_api_url + "\n")
    return path


def _forget_api_url(config: ServeConfig) -> None:
    path = config.home / API_URL_FILE
    with contextlib.suppress(OSError):
        if path.read_text().strip() == config.local_api_url:
            path.unlink()


def recorded_server(home: Path, timeout: float = PROBE_SECONDS) -> tuple[str, str] | None:
    """The API URL and credential of the server recorded under ``home`` when it answers within ``timeout``.

    A stale record (a server killed without cleaning up), an unreadable one or a credential the server
    refuses: ``None``, and the caller does without.
    """
    try:
        url = (home / API_URL_FILE).read_text().strip()
    except OSError:
        return None
    auth = _stored_auth(home)
    if not url or auth is None:
        return None
    import httpx

    user, _, password = auth.partition(":")
    try:
        with httpx.Client(base_url=url, timeout=timeout) as client:
            if client.get("/health").status_code != 200:
                return None
            if client.get("/admin/version", auth=(user, password)).status_code != 200:
                return None
    except (httpx.HTTPError, ValueError):
        return None
    return url, auth


def reports_port_setting(value: str | int | None) -> tuple[int, str | None]:
    """The reports server's port from ``ROTAFLOW_REPORTS_PORT`` (or a given value) and the warning when it is
    no port: 1–65535, 0 for no reports server, empty for the default 4201. Anything else (a word, a number
    out of range) is no reports server, with a warning naming the value; serve starts without it."""
    raw = str(value).strip() if value is not None else ""
    if not raw:
        return REPORTS_PORT, None
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if 0 <= port <= 65535:
        return port, None
    return 0, (
        f"warning: no reports server: {REPORTS_PORT_ENV}={raw!r} is not a port (1-65535, or 0 for none); "
        "the artifacts show the reports' paths instead of links"
    )


def exposure_warning(host: str) -> str | None:
    """The warning for a server other machines can reach; ``None`` on loopback.

    The server speaks plain HTTP: its basic-auth credentials (and the schedules) cross the
    network readable by anyone on the path, unless a TLS-terminating proxy stands in front.
    A host name other than localhost is taken as reachable (it is not resolved).
    """
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(name).is_loopback:
            return None
    return (
        f"warning: the server listens on {host}, beyond this machine, over plain HTTP: its basic auth "
        "(the credentials) and the schedules travel in clear without TLS; put a TLS-terminating proxy "
        "(nginx, Caddy, a load balancer) in front, or bind to 127.0.0.1"
    )


def mask_secret(value: str) -> str:
    """``user:ab…`` — enough to tell two credentials apart, never the whole password."""
    user, sep, password = value.partition(":")
    if not sep:
        return value[:2] + "…"
    return f"{user}:{password[:2]}…"


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 4200
    home: Path = field(default_factory=prefect_home)
    deploy: bool = True
    worker: bool = True
    startup_timeout: float = 120.0
    log: Callable[[str], None] = print
    database_url: str | None = field(default_factory=lambda: os.environ.get(DATABASE_ENV) or None)
    """The Prefect server's own database (``postgresql+asyncpg://…``); default: SQLite under ``home``."""
    extra_env: dict[str, str] = field(default_factory=dict)
    """Set for the server, ``prefect deploy`` and the worker (and so every flow run), over the caller's env."""
    worker_log: Path | None = None
    """Where the worker's output (and its flow runs') goes; default: this process's stdout/stderr."""
    reports_port: int = REPORTS_PORT_FROM_ENV
    """The reports server's port (the runs' report files and the Data Docs, read-only over HTTP on 127.0.0.1);
    0: no reports server; not given: ``ROTAFLOW_REPORTS_PORT`` (see :func:`reports_port_setting`)."""
    reports_warning: str | None = field(default=None, init=False)
    """Why there is no reports server although one was asked for (a ``ROTAFLOW_REPORTS_PORT`` that is no port)."""

    def __post_init__(self) -> None:
        given = os.environ.get(REPORTS_PORT_ENV) if self.reports_port == REPORTS_PORT_FROM_ENV else self.reports_port
        self.reports_port, self.reports_warning = reports_port_setting(given)

    @property
    def reports_url(self) -> str:
        return f"http://127.0.0.1:{self.reports_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def local_api_url(self) -> str:
        """The API as a client on this machine reaches it."""
        return f"{self.ui_url}/api"

    @property
    def ui_url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}"

    @property
    def database_file(self) -> Path:
        return self.home / "prefect.db"


@dataclass
class Served:
    config: ServeConfig
    auth: str
    auth_source: str
    server: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    automations: dict[str, str] = field(default_factory=dict)
    reports: ThreadingHTTPServer | None = None

    def client(self, timeout: float = 10.0) -> httpx.Client:
        import httpx

        user, _, password = self.auth.partition(":")
        return httpx.Client(base_url=self.config.api_url, auth=(user, password), timeout=timeout)


def _check_database_apart(config: ServeConfig) -> None:
    """The Prefect server never shares rotaflow's database."""
    settings = get_settings()
    if not settings.database_url and settings.database_url_block:
        return  # held in a Secret block on this very server, which is not up yet: never SQLite under home
    url = settings.resolved_database_url
    if config.database_url is not None:
        from sqlalchemy.engine import make_url

        ours, theirs = make_url(url), make_url(config.database_url)
        same = (ours.host, ours.port, ours.database) == (theirs.host, theirs.port, theirs.database)
        if same and ours.database is not None:
            raise RuntimeError(f"{DATABASE_ENV} names rotaflow's own database ({mask_url(url)}); give Prefect its own")
        return
    if url.startswith("sqlite"):
        app_db = Path(url.split("///", 1)[-1]).resolve()
        if app_db == config.database_file.resolve():
            raise RuntimeError(f"PREFECT_HOME ({config.home}) would put Prefect's database on rotaflow's")


def _env(config: ServeConfig, auth: str) -> dict[str, str]:
    env = {**os.environ, **config.extra_env}
    env.pop(AUTH_ENV, None)
    env.update(
        PREFECT_HOME=str(config.home),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=config.database_url or f"sqlite+aiosqlite:///{config.database_file}",
        PREFECT_SERVER_DATABASE_TIMEOUT=str(SQLITE_TIMEOUT_SECONDS if config.database_url is None else 10),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST=config.host,
        PREFECT_SERVER_API_PORT=str(config.port),
        PREFECT_API_URL=config.api_url,
        PREFECT_API_AUTH_STRING=auth,
        PREFECT_UI_URL=config.ui_url,
    )
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)  # the older alias would take precedence
    return env


APP_DIR = PROJECT_ROOT or CONFIG_DIR.parent
"""Where ``prefect.yaml`` and ``configs/`` sit: the checkout, or the installed package (both are package
data of the wheel), so that ``prefect deploy --all`` and the deployments' preset paths work from either."""


def _prefect() -> list[str]:
    return [sys.executable, "-m", "prefect"]


def start_server(config: ServeConfig, auth: str) -> subprocess.Popen[bytes]:
    """``prefect server start`` in its own process group, its output in ``<home>/logs/server.log``."""
    _check_database_apart(config)
    (config.home / "logs").mkdir(parents=True, exist_ok=True)
    env = _env(config, auth)
    env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    with (config.home / "logs" / "server.log").open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            [*_prefect(), "server", "start", "--host", config.host, "--port", str(config.port)],
            env=env,
            cwd=APP_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(config: ServeConfig, process: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited ({process.returncode}); see {config.home}/logs/server.log")
        try:
            if httpx.get(f"{config.api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the Prefect server did not answer within {timeout:.0f} s; see {config.home}/logs/server.log")


def _ensure_pool(served: Served) -> None:
    from prefect.workers.process import ProcessWorker

    with served.client() as client:
        found = client.get(f"/work_pools/{POOL}")
        if found.status_code == 200:
            return
        body = {"name": POOL, "type": "process", "base_job_template": ProcessWorker.get_default_base_job_template()}
        made = client.post("/work_pools/", json=body)
        if made.status_code not in (201, 409):
            raise RuntimeError(f"creating the work pool {POOL} failed: HTTP {made.status_code}")


def _ensure_automations(served: Served) -> dict[str, str]:
    """The automations of configs/automations.yaml, notifying ROTAFLOW_ALERT_WEBHOOK_URL when set."""
    from rotaflow.automations import alerts_block, ensure_automations

    webhook = get_settings().alert_webhook_url
    block_id = None
    if webhook is not None and webhook.get_secret_value():
        block_id = alerts_block(webhook.get_secret_value(), api_url=served.config.api_url, auth_string=served.auth)
    with served.client() as client:
        return ensure_automations(client, block_document_id=block_id)


def _deploy(served: Served) -> None:
    env = _env(served.config, served.auth)
    done = subprocess.run(
        [*_prefect(), "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=served.config.startup_timeout,
    )
    log = served.config.home / "logs" / "deploy.log"
    log.write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"`prefect deploy --all` failed ({done.returncode}); see {log}")


def _deployment_names(served: Served) -> list[str]:
    with served.client() as client:
        found = client.post("/deployments/filter", json={"limit": 200})
        found.raise_for_status()
        return sorted(d["name"] for d in found.json())


RUN_LOGGING = {
    # the runs' INFO lines reach the API (each run's Logs tab) whatever the caller's PREFECT_LOGGING_LEVEL …
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_LOGGING_HANDLERS_API_LEVEL": "INFO",
    "PREFECT_LOGGING_TO_API_ENABLED": "true",
    # … while the worker's terminal (or worker_log) shows warnings only
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
}
"""Prefect's logging settings (prefect/logging/logging.yml, prefect/settings/models/logging.py) of the worker
and of the flow runs it starts (a process worker passes its environment on)."""


def worker_env(config: ServeConfig, auth: str, reports_url: str | None = None) -> dict[str, str]:
    """The worker's environment: the server's, run logs at INFO to the API, the console quiet, and where
    the runs' reports are served (``ROTAFLOW_REPORTS_URL``: ``reports_url``, the server's address and access
    token, when the reports server runs)."""
    env = _env(config, auth)
    env.update(RUN_LOGGING)
    if reports_url:
        env[REPORTS_URL_ENV] = reports_url
    else:
        env.pop(REPORTS_URL_ENV, None)
    return env


def _reports_base(served: Served) -> str | None:
    """What the runs link their report files under: the reports server's address and access token."""
    if served.reports is None:
        return None
    return f"http://127.0.0.1:{served.reports.server_address[1]}/{reports_token(served.auth)}"


def _start_worker(served: Served) -> subprocess.Popen[bytes]:
    env = worker_env(served.config, served.auth, _reports_base(served))
    command = [*_prefect(), "worker", "start", "--pool", POOL, "--type", "process", "--name", "rotaflow-worker"]
    path = served.config.worker_log
    if path is None:
        return subprocess.Popen(command, env=env, cwd=APP_DIR, start_new_session=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            command, env=env, cwd=APP_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for_worker(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with served.client() as client:
        while time.monotonic() < deadline:
            if served.worker is not None and served.worker.poll() is not None:
                raise RuntimeError(f"the worker exited ({served.worker.returncode})")
            found = client.post(f"/work_pools/{POOL}/workers/filter", json={})
            if found.status_code == 200 and found.json():
                return
            time.sleep(0.5)
    raise TimeoutError(f"no worker polled the pool {POOL} within {timeout:.0f} s")


REPORTS_REALM = "rotaflow reports"


def reports_token(auth: str) -> str:
    """The reports server's access token: derived from the API credential (it changes with it), never the
    credential itself. It is the first segment of the links the runs' artifacts carry."""
    return hmac.new(auth.encode(), b"rotaflow reports server", hashlib.sha256).hexdigest()[:32]


class _ReportsHandler(BaseHTTPRequestHandler):
    """GET/HEAD of a file the reports server gives out (``rotaflow.tasks.links.served_path``: a run's report
    files, the Data Docs site), read-only; nothing else (no listing, no calendars, no dotfiles, no path outside
    them, no symlink out of them).

    Every request must name this server as ``127.0.0.1:<port>`` or ``localhost:<port>`` in its ``Host`` (a
    web page elsewhere cannot read it through DNS rebinding: 403) and carry either the access token as the
    first path segment (``/<token>/runs/…``: the artifacts' links) or the API's Basic credential (the one
    the Prefect UI signs in with: the browser asks for it; 401 otherwise).
    """

    var_dir: Path
    gx_dir: Path
    auth: str
    token: str
    server_version = "rotaflow-reports"
    sys_version = ""

    def _host_allowed(self) -> bool:
        port = cast(tuple[str, int], self.server.server_address)[1]
        host = (self.headers.get("Host") or "").strip().lower()
        return host in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _signed_in(self) -> bool:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except ValueError:  # binascii.Error
            return False
        return hmac.compare_digest(given, self.auth.encode())

    def _relative(self) -> str | None:
        """The requested path under ``var/``, past the token or with the credential; ``None``: not allowed in."""
        path = unquote(urlsplit(self.path).path)
        first, sep, rest = path.removeprefix("/").partition("/")
        if sep and hmac.compare_digest(first.encode(), self.token.encode()):
            return rest
        return path.removeprefix("/") if self._signed_in() else None

    def _target(self, relative: str) -> Path | None:
        parts = relative.split("/")
        if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
            return None
        target = self.var_dir.joinpath(*parts)
        if not target.is_file() or served_path(self.var_dir, self.gx_dir, target) != "/".join(parts):
            return None
        return target.resolve()

    def _answer(self, body: bool) -> None:
        import mimetypes

        if not self._host_allowed():
            self.send_error(HTTPStatus.FORBIDDEN, "this server answers to 127.0.0.1 and localhost only")
            return
        relative = self._relative()
        if relative is None:
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", f'Basic realm="{REPORTS_REALM}", charset="UTF-8"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self._target(relative)
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not a report file")
            return
        data = target.read_bytes()
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind + ("; charset=utf-8" if kind.startswith("text/") else ""))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")  # the token never leaves in a Referer
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal belongs to serve's summary
        return


def reports_server(var_dir: Path, port: int, auth: str, gx_dir: Path | None = None) -> ThreadingHTTPServer:
    """Serve the report files under ``var_dir`` (``var/runs/…`` and the Data Docs site of ``gx_dir``, default
    ``var/gx``) read-only at ``http://127.0.0.1:<port>/<token>/<path under var>`` (or without the token, to
    the API credential ``auth`` as Basic auth), on a daemon thread; ``port`` 0 picks a free one
    (``server.server_address[1]``). Stop with ``shutdown()``."""
    var = var_dir.resolve()
    (var / "runs").mkdir(parents=True, exist_ok=True)
    attributes = {
        "var_dir": var,
        "gx_dir": (gx_dir or var / "gx").resolve(),
        "auth": auth,
        "token": reports_token(auth),
    }
    handler = type("ReportsHandler", (_ReportsHandler,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="rotaflow-reports", daemon=True).start()
    return server


def _start_reports(served: Served) -> None:
    config = served.config
    if config.reports_warning:
        config.log(config.reports_warning)
    if not config.reports_port:
        return
    settings = get_settings()
    try:
        served.reports = reports_server(settings.var_dir, config.reports_port, served.auth, settings.resolved_gx_dir)
    except OSError as exc:  # the rest works without it: the artifacts then show the reports' paths
        config.log(
            f"warning: no reports server: 127.0.0.1:{config.reports_port} is not free ({exc.strerror}); "
            f"the artifacts show the reports' paths instead of links. Set {REPORTS_PORT_ENV} to a free port"
        )


def webhook_warning() -> str | None:
    """The warning when no alert webhook is set: every automation fires, but its action does nothing."""
    webhook = get_settings().alert_webhook_url
    if webhook is not None and webhook.get_secret_value():
        return None
    return (
        'warning: ROTAFLOW_ALERT_WEBHOOK_URL is not set: every automation\'s action is "do nothing" — failures, '
        "stale backups and refused restores only show on the UI's Automations page, nobody is notified.\n"
        "         set ROTAFLOW_ALERT_WEBHOOK_URL=https://… (Slack, Teams, a pager) and restart serve to be notified"
    )


def bring_up(config: ServeConfig) -> Served:
    """Start everything and return once the UI answers and (when asked) the worker polls."""
    started = time.monotonic()
    config.home.mkdir(parents=True, exist_ok=True)
    auth, source = auth_string(config.home)
    served = Served(config, auth, source, start_server(config, auth))
    try:
        wait_until_healthy(config, served.server, config.startup_timeout)
        record_api_url(config)
        served.timings["server"] = time.monotonic() - started
        _ensure_pool(served)
        served.timings["pool"] = time.monotonic() - started
        served.automations = _ensure_automations(served)
        _start_reports(served)
        if config.deploy:
            _deploy(served)
            served.timings["deployments"] = time.monotonic() - started
        if config.worker:
            served.worker = _start_worker(served)
            _wait_for_worker(served, config.startup_timeout)
            served.timings["worker"] = time.monotonic() - started
    except BaseException:
        shut_down(served)
        raise
    return served


def _stop(process: subprocess.Popen[bytes] | None, grace: float = 20.0) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


def shut_down(served: Served) -> None:
    """The worker first (it stops taking runs), then the server (and its record in ``<home>/api-url``)."""
    _stop(served.worker)
    if served.reports is not None:
        served.reports.shutdown()
        served.reports.server_close()
    _forget_api_url(served.config)
    _stop(served.server)


def serve(config: ServeConfig) -> int:
    """Bring everything up, then wait for Ctrl-C / SIGTERM (or a child exiting)."""
    stop = threading.Event()
    up = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if not up.is_set():  # still starting: unwind bring_up, which stops what it started
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    log = config.log
    try:
        warning = exposure_warning(config.host)
        if warning:
            log(warning)
        quiet = webhook_warning()
        if quiet:
            print(quiet, file=sys.stderr, flush=True)
        log(f"starting the Prefect server on {config.ui_url} (home {config.home}) …")
        served = bring_up(config)
        up.set()
        names = _deployment_names(served)
        log(f"UI:          {config.ui_url}   (API {config.api_url})")
        log(f"credentials: {mask_secret(served.auth)}  — the full value is in {served.auth_source}")
        log(f"work pool:   {POOL}; deployments: {', '.join(names) or 'none'}")
        log(f"worker:      {'polling' if served.worker else 'not started'}")
        notify = "show in the UI only (no webhook set)" if quiet else "notify the alert webhook"
        log(f"automations: {len(served.automations)} on rotaflow's events; they {notify}")
        if served.reports is not None:
            log(
                f"reports:     {config.reports_url}/runs/<run folder>/report.html (read-only, this machine; sign in "
                "with the credentials above; the runs' artifacts link with a token)"
            )
        log("ready in " + ", ".join(f"{k} {v:.1f} s" for k, v in served.timings.items()) + "; Ctrl-C stops")
        code = 0
        while not stop.wait(1.0):
            for name, process in (("server", served.server), ("worker", served.worker)):
                if process is not None and process.poll() is not None:
                    log(f"the {name} exited ({process.returncode}); stopping")
                    code = 1
                    stop.set()
        log("stopping the worker and the server …")
        shut_down(served)
        log("stopped")
        return code
    except (RuntimeError, TimeoutError) as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted while starting; stopped")
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
