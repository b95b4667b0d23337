"""A command's start-up while Prefect's temporary API starts, and its end without the interpreter's teardown.

The start: the API's process boots while this one loads the modules the run will need, instead of one
after the other.

Without ``PREFECT_API_URL`` (no `rotaflow serve` server, no Prefect server named), a flow run starts Prefect's
temporary API (``SubprocessASGIServer``): a process of its own that takes seconds to import and to open its
database, while the command waits. Prefect's client also imports that server's whole module in the command's
own process to start it (the API's routes and database models: about 2 s of CPU that the run never uses).
``api_warm_start`` starts the same API itself (:class:`TemporaryApi`: the command line, environment and
settings Prefect gives it) before the command imports Prefect, its flows and the run's heavy libraries (Great
Expectations, the report's plotting), so both happen at once, and names it to Prefect (``PREFECT_API_URL``)
once it answers: Prefect's client then talks to it as to any server and never imports the server's module.
The imports run on the calling thread only (never two threads importing at once); a thread only waits for
the API to answer. An API that does not answer in time (Prefect's
``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``) is stopped and the command ends with an error.

A new Prefect home has no database yet, and the API spends about 6 s more creating it (Prefect's migrations,
on SQLite) than opening one. :func:`seed_database` copies a new home a database Prefect has made before: the
first API that creates one in a home of its own leaves a copy of it, taken as soon as it answers (the
migrations done, no run in it yet), as a template in rotaflow's cache (``ROTAFLOW_CACHE_DIR``, default
``rotaflow-<uid>/cache`` in the temporary folder), one per Prefect version. A template that is not a sound
SQLite database of Prefect's migrations is not used; without a usable template, or when Prefect's database is
elsewhere (``PREFECT_SERVER_DATABASE_CONNECTION_URL``), the API creates its database as before.

The API is this process's: it stops when the command ends (an ``atexit`` handler, as Prefect's own). Its
runs are kept in Prefect's database under var/prefect (`rotaflow serve` shows them later). So
:func:`run_settings` turns the flow runs' heartbeats off while it serves: they tell a server that a run's
process is still alive, and this API cannot outlive the process. They cost time too: each flow run, on
leaving, waits for its heartbeat thread's current second of sleep (up to 1 s a run; a block generation
runs 6 flows).

The end: once a command has done its work, the interpreter's own shutdown frees each of the thousands of
modules a run loads (Prefect, Great Expectations, pandas, plotly, OR-Tools) and every object left: seconds
spent on memory the operating system takes back anyway. ``exit_now`` does what that shutdown must do, in
the interpreter's order (``threading._shutdown``: the threading module's exit hooks, which let idle
``ThreadPoolExecutor`` workers and Prefect's log and event services end, then the wait for the threads that
are not daemons; then the ``atexit`` handlers, which stop the temporary API and write what is
buffered; then standard output and error are flushed) and ends the process with the command's exit code.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import importlib
import importlib.util
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import NoReturn

from rotaflow.errors import RotaflowError

__all__ = [
    "RUN_MODULES",
    "TemporaryApi",
    "api_warm_start",
    "cache_dir",
    "database_template",
    "exit_now",
    "keep_template",
    "prefect_database",
    "run_settings",
    "seed_database",
]

RUN_MODULES = (
    "rotaflow.flows.generate",
    "rotaflow.flows.validate",
    "rotaflow.flows.contingency",
    "rotaflow.flows.backup",
    "rotaflow.validations.expectations",
    "rotaflow.validations.report",
    "great_expectations",
)
"""What a block generation imports sooner or later (a module that is not installed is skipped)."""

SERVER_ENVIRONMENT: Mapping[str, str] = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
"""What Prefect sets for its temporary API's process (``SubprocessASGIServer._run_uvicorn_command``): no UI, the
services of an ephemeral server."""

SERVER_DEFAULTS: Mapping[str, str] = {
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
"""The temporary API's own defaults (the environment's values win): it does not register Prefect's block types
at start (loading every installed Prefect collection to hash them: 0.66 s in a py-spy profile); the command's
runs use no block, and `rotaflow serve`'s server registers them in the same database when it starts."""

PORT_IN_USE = 3
"""uvicorn's exit code when it cannot start, as when another process took its port first: the API starts
again on another port, up to ``PORT_RETRIES`` times (as Prefect's own start does, without its end)."""
PORT_RETRIES = 3


DATABASE_ELSEWHERE = (
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_DRIVER",
    "PREFECT_SERVER_DATABASE_HOST",
    "PREFECT_SERVER_DATABASE_NAME",
)
"""Prefect settings that put its database somewhere else than ``prefect.db`` in its home."""


def prefect_database(environ: Mapping[str, str]) -> Path | None:
    """The SQLite file the API of ``environ`` keeps its runs in (Prefect's default: ``prefect.db`` in
    ``PREFECT_HOME``); None when no home is named or the environment names another database."""
    home = environ.get("PREFECT_HOME")
    if not home or any(environ.get(name) for name in DATABASE_ELSEWHERE):
        return None
    return Path(home).expanduser() / "prefect.db"


def database_template(environ: Mapping[str, str]) -> Path | None:
    """Where a database as Prefect creates it, before any run, is kept for new homes: one per Prefect version,
    in rotaflow's cache (:func:`cache_dir`). None without Prefect or a usable cache."""
    try:
        prefect = version("prefect")
    except PackageNotFoundError:
        return None
    cache = cache_dir(environ)
    return None if cache is None else cache / "prefect" / f"prefect-{prefect}.db"


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """rotaflow's cache: ``ROTAFLOW_CACHE_DIR``, else ``rotaflow-<uid>/cache`` in the temporary folder (never in the
    user's home: writable state goes under ``ROTAFLOW_VAR_DIR``, and this is only what can be made again). The
    default's ``rotaflow-<uid>`` folder is made 0700; one that is not this user's own folder, or that others may
    write to, is not used (None)."""
    named = environ.get("ROTAFLOW_CACHE_DIR")
    if named:
        return Path(named).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else None
    root = Path(tempfile.gettempdir()) / f"rotaflow-{uid if uid is not None else 'user'}"
    try:
        root.mkdir(mode=0o700, exist_ok=True)
        info = root.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077 or (uid is not None and info.st_uid != uid):
        return None
    return root / "cache"


def _read_only(path: Path) -> sqlite3.Connection:
    """Open a SQLite file for reading only (as backups/databases/sqlite.py does; that module imports SQLAlchemy,
    which a command's start must not wait for)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _sound(path: Path) -> bool:
    """Whether ``path`` is a whole SQLite database (its quick check passes) that Prefect's migrations made."""
    try:
        with contextlib.closing(_read_only(path)) as db:
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                return False
            return bool(db.execute("SELECT count(*) FROM alembic_version").fetchone()[0])
    except (sqlite3.Error, OSError):
        return False


RUN_TABLES = ("flow_run", "task_run", "log", "artifact", "events", "deployment", "flow")
"""Prefect's tables of what runs leave: empty in a template (another command's runs never reach a new home)."""


def _without_runs(path: Path) -> bool:
    """Whether the Prefect database at ``path`` holds nothing a run leaves (:data:`RUN_TABLES` empty)."""
    with contextlib.closing(_read_only(path)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return all(db.execute(f'SELECT count(*) FROM "{t}"').fetchone() == (0,) for t in RUN_TABLES if t in tables)


def _part(path: Path) -> Path:
    """A file beside ``path`` to write first and then rename onto it (never read half written)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")


def seed_database(environ: Mapping[str, str]) -> Path | None:
    """Give the API of ``environ`` a database before it starts, when its home has none (missing or empty):
    a copy of the template (:func:`database_template`), with the mode of the file it replaces.

    Returns the database to keep as the template once the API has created it (a new home and no usable
    template), else None. Nothing fails here: without a template the API creates its database itself.
    """
    database, template = prefect_database(environ), database_template(environ)
    if database is None or template is None:
        return None
    try:
        if database.exists() and database.stat().st_size > 0:
            return None  # a home's own database: never replaced
        if not database.parent.is_dir() or not template.is_file() or not _sound(template):
            return database
        part = _part(database)
        try:
            shutil.copyfile(template, part)
            if database.exists():
                os.chmod(part, database.stat().st_mode & 0o777)  # private stays private
            os.replace(part, database)
        finally:
            part.unlink(missing_ok=True)
    except OSError:
        return database
    return None


def keep_template(database: Path, template: Path) -> bool:
    """Keep a copy of ``database`` (as the API has just made it, open or not) as ``template``: SQLite's backup
    of it, checked, then renamed into place. Whether it was kept; a cache that cannot be written is no error."""
    part = _part(template)
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        source = _read_only(database)
        try:
            with contextlib.closing(sqlite3.connect(part)) as copy:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")  # all of it in the one file: no -wal beside it
        finally:
            source.close()
        if not _sound(part) or not _without_runs(part):
            return False
        os.replace(part, template)
        return True
    except (sqlite3.Error, OSError):
        return False
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _app_dir() -> list[str]:
    """uvicorn's ``--app-dir``: the folder Prefect is installed in, first on the API's path (as Prefect starts it;
    no folder of the working directory's shadows it), found without importing Prefect."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return []
    return ["--app-dir", str(Path(next(iter(spec.submodule_search_locations))).parent)]


class TemporaryApi:
    """Prefect's temporary API in a process this command starts and stops: Prefect's own command line
    (uvicorn serving ``prefect.server.api.server:create_app``), on a free loopback port."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = dict(os.environ if environ is None else environ)
        environ.pop("PREFECT_API_URL", None)  # the API itself is no client of another
        self.environ = {**SERVER_DEFAULTS, **environ, **SERVER_ENVIRONMENT}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.new_database: Path | None = None
        """The database this API creates in a new home (no template to seed it from): kept as the template
        once the API answers."""

    @property
    def url(self) -> str:
        """The API's URL, as Prefect's settings name one (``PREFECT_API_URL``)."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Start the API's process (on a new free port); :meth:`wait` tells when it answers."""
        self.port = _free_port()
        if self.process is None:  # not on a restart: the database was seeded, or is being created
            self.new_database = seed_database(self.environ)
        command = [sys.executable, "-m", "uvicorn", *_app_dir(), "--factory", "prefect.server.api.server:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(command, env=self.environ, stdin=subprocess.DEVNULL)
        atexit.register(self.stop)

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Whether the API answers its health check within ``timeout`` seconds (started again on another port
        when its port was taken); False as well when its process ended or ``stop`` was set."""
        deadline, restarts = time.monotonic() + timeout, PORT_RETRIES
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            code = None if self.process is None else self.process.poll()
            if code == PORT_IN_USE and restarts > 0:
                restarts -= 1
                self.start()
            elif code is not None or self.process is None:
                return False
            elif self._healthy():
                self._keep_new_database()
                return True
            time.sleep(0.05)
        return False

    def _keep_new_database(self) -> None:
        """Once the API answers, the database it created in a new home is migrated and holds no run yet
        (the command's runs wait for the answer): a copy becomes the template of later new homes."""
        database, self.new_database = self.new_database, None
        template = database_template(self.environ)
        if database is not None and template is not None:
            keep_template(database, template)  # it keeps nothing that is not a sound database of Prefect's

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/api/health")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the API's process (Prefect's way: terminate, then kill after 5 s); nothing when it is not running."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _named_elsewhere() -> bool:
    """Whether the runs have an API already, or must not start a temporary one, before Prefect is imported:
    named in the environment, or (Prefect imported already) in Prefect's current settings."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    if "prefect.settings" not in sys.modules:
        return False
    return _named_in_settings()


def _named_in_settings() -> bool:
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return bool(PREFECT_API_URL.value()) or not PREFECT_SERVER_EPHEMERAL_ENABLED.value()


@contextlib.contextmanager
def api_warm_start(modules: Iterable[str] = RUN_MODULES) -> Iterator[TemporaryApi | None]:
    """Prefect's temporary API starting (when the runs need one) while the ``with`` block and then the import
    of ``modules`` run; on leaving, the API answers and Prefect's settings name it (``PREFECT_API_URL``).

    Yields the API being started, or None when a server is named or Prefect's temporary servers are disabled
    (``PREFECT_SERVER_EPHEMERAL_ENABLED``): ``modules`` are not imported then. Named in the environment, nothing
    is started; named only in Prefect's other settings (a profile, a .env or prefect.toml file), which are read
    once the API's process has been started, that process is stopped again. Raises ``RotaflowError`` when the
    API does not answer in time (it is stopped).
    """
    if _named_elsewhere():
        yield None
        return
    api = TemporaryApi()
    api.start()  # before Prefect is imported here: the API's process boots meanwhile
    try:
        named = _named_in_settings()  # Prefect's other sources (profile, .env, prefect.toml) may name one
    except BaseException:
        api.stop()
        raise
    if named:
        api.stop()
        yield None
        return
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    timeout = float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    answered, given_up = threading.Event(), threading.Event()
    waiting = threading.Thread(
        target=lambda: answered.set() if api.wait(timeout, given_up) else None, name="prefect-api-start", daemon=True
    )
    waiting.start()
    try:
        yield api
        for name in modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        waiting.join()
    finally:
        given_up.set()  # when the block raised, the wait ends at once
        waiting.join()
        if not answered.is_set():
            api.stop()
    if not answered.is_set():
        raise RotaflowError(
            f"Prefect's temporary API did not answer within {timeout:g} s "
            "(its start-up time limit: PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
        )
    os.environ["PREFECT_API_URL"] = api.url
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # Prefect's settings, read at its import, now name the API


@contextlib.contextmanager
def run_settings(api: TemporaryApi | None) -> Iterator[None]:
    """The Prefect settings of flow runs on ``api``, this process's temporary API: no heartbeats (the API
    cannot outlive the process whose runs they would tell it of). Nothing changes for another server."""
    if api is None:
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` after its threads, its ``atexit`` handlers and its output are done."""
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's first step at exit: its hooks, then the threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a reader that went away (a pipe to `head`)
            stream.flush()
    os._exit(code)
