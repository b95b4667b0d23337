"""PostgreSQL: ``pg_dump`` on an exported snapshot, ``pg_restore`` into a new database, swap by rename.

A dump is taken with ``pg_dump --format=custom`` on a snapshot exported by a read-only
REPEATABLE READ transaction, and the row counts and fingerprints are taken in that same
transaction, so they describe exactly what the dump holds. A table's fingerprint is the row
count and the sum of ``hashtextextended`` of each row's text, computed on the server. Every
client tool gets its connection from ``libpq_connection``: no secret on a command line.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from rotaflow.backups.config import PostgresTools
from rotaflow.backups.databases.base import (
    DUMP_FILES,
    Database,
    DumpResult,
    RoomCheck,
    Swap,
    dialect_of,
    make_room,
    unpooled_engine,
)
from rotaflow.backups.disk import existing_ancestor
from rotaflow.backups.journal import checkpoint
from rotaflow.backups.manifest import TableStat
from rotaflow.configs.settings import mask_url
from rotaflow.errors import GateRefused

__all__ = [
    "PostgresDatabase",
    "libpq_connection",
    "pg_dump_command",
    "pg_restore_command",
    "stop_orphaned_restore",
    "tool_version",
]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,62}$")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
# what a row's text looks like while it is fingerprinted: the same whatever the server's defaults
# (set_config(..., true) is SET LOCAL: it ends with the transaction); one statement, one round trip
_PG_SESSION = (
    "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true), "
    "set_config('IntervalStyle', 'postgres', true), set_config('extra_float_digits', '1', true), "
    "set_config('bytea_output', 'hex', true)"
)
_PG_FACTS = (
    "SELECT current_setting('server_version_num'), current_setting('server_version'), "
    "pg_database_size(d.oid), pg_encoding_to_char(d.encoding) FROM pg_database AS d "
    "WHERE d.datname = current_database()"
)


def _pg_name(url: str | URL) -> str:
    name = make_url(url).database if isinstance(url, str) else url.database
    if not name or not _NAME.match(name):
        raise GateRefused(f"{name!r} is not a database name rotaflow will create, rename or drop")
    return name


def _quote(name: str) -> str:
    if not _NAME.match(name):
        raise GateRefused(f"{name!r} is not a database name rotaflow will create, rename or drop")
    return '"' + name + '"'


def _maintenance(url: str, tools: PostgresTools) -> str:
    return make_url(url).set(database=tools.maintenance_database).render_as_string(hide_password=False)


class PostgresDatabase(Database):
    """A database on a PostgreSQL server; created, renamed and dropped through the maintenance database."""

    dialect = "postgresql"

    @property
    def name(self) -> str:
        return make_url(self.url).database or ""

    @classmethod
    def scratch_url(cls, work: Path, label: str, live_url: Callable[[], str]) -> str:
        """The database ``<live>__<label>`` on the live database's server, which must be PostgreSQL."""
        live = live_url()
        if dialect_of(live) != "postgresql":
            raise GateRefused("a PostgreSQL backup needs a PostgreSQL server for its scratch restore: pass scratch_url")
        return cls(live).sibling(label)

    def sibling(self, label: str) -> str:
        """``<name>__<label>`` on the same server (shortened with a digest past 63 characters)."""
        parsed = make_url(self.url)
        base = _pg_name(parsed)
        name = f"{base}__{label}"
        if len(name) > 63:
            digest = hashlib.sha256(base.encode()).hexdigest()[:6]
            name = f"{base[: 63 - len(label) - 9]}_{digest}__{label}"
        return parsed.set(database=name).render_as_string(hide_password=False)

    def exists(self) -> bool:
        with _engine(_maintenance(self.url, self.tools)) as engine, engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": _pg_name(self.url)}
            ).first()
            return found is not None

    def size(self) -> int:
        with _engine(self.url) as engine, engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())

    def drop(self) -> None:
        admin = _maintenance(self.url, self.tools)
        with _engine(admin, isolation_level="AUTOCOMMIT") as engine, engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(_pg_name(self.url))} WITH (FORCE)"))

    def ensure_connectable(self) -> None:
        admin = _maintenance(self.url, self.tools)
        with _engine(admin, isolation_level="AUTOCOMMIT") as engine, engine.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {_quote(_pg_name(self.url))} WITH ALLOW_CONNECTIONS true"))

    def related(self) -> list[str]:
        parsed = make_url(self.url)
        base = _pg_name(parsed)
        pattern = base.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "\\_\\_%"
        with _engine(_maintenance(self.url, self.tools)) as engine, engine.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p ORDER BY datname"), {"p": pattern}
            ).scalars()
            return [parsed.set(database=n).render_as_string(hide_password=False) for n in names]

    def table_stats(self) -> tuple[str | None, dict[str, TableStat]]:
        with _engine(self.url) as engine, engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                return _pg_table_stats(conn)

    def dump(self, folder: Path, room: RoomCheck | None = None) -> DumpResult:
        return _pg_dump(self.url, folder, self.tools, room)

    def restore(
        self,
        dump: Path,
        *,
        encoding: str | None = None,
        dump_tool: str | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        """``pg_restore`` into a new database; ``on_start`` is told its process id once it runs."""
        _pg_restore(dump, self.url, self.tools, encoding=encoding, dump_tool=dump_tool, on_start=on_start)

    def swap_in(self, staged_url: str, keep_as: str, wait_seconds: float) -> Swap:
        """Both renames in one transaction, new connections to both refused and the open ones ended."""
        return _pg_swap(staged_url, self.url, keep_as, self.tools, wait_seconds)

    def restore_folder(self) -> Path | None:
        """The server's data folder, when the server runs on this machine and says where."""
        host = make_url(self.url).host
        if host not in (None, "", "localhost", "127.0.0.1", "::1") and not str(host).startswith("/"):
            return None
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                folder = Path(str(conn.execute(text("SHOW data_directory")).scalar_one()))
        except Exception:
            return None
        finally:
            engine.dispose()
        return folder if existing_ancestor(folder) != Path(folder.anchor) else None

    def set_aside(self, target_url: str) -> None:
        admin = make_url(self.url).set(database=self.tools.maintenance_database).render_as_string(hide_password=False)
        engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                live, new = self.name, PostgresDatabase(target_url, self.tools).name
                conn.execute(text(f'ALTER DATABASE "{live}" WITH ALLOW_CONNECTIONS false'))
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": live}
                )
                conn.execute(text(f'ALTER DATABASE "{live}" RENAME TO "{new}"'))
                conn.execute(text(f'ALTER DATABASE "{new}" WITH ALLOW_CONNECTIONS true'))
        finally:
            engine.dispose()

    def drop_leftovers(self) -> None:
        """A half-made PostgreSQL database is the staging database itself: nothing else is left."""

    def is_same(self, other_url: str) -> bool:
        """Two names are two databases on a server."""
        return False


@contextlib.contextmanager
def _engine(url: str, isolation_level: str | None = None) -> Iterator[Engine]:
    yield unpooled_engine(url, isolation_level)


# libpq connection keys that hold a secret. ``password`` has an environment variable of its own
# (PGPASSWORD); the others have none, so they go through a private service file.
_LIBPQ_SECRETS = ("password", "sslpassword")
_SERVICE = "rotaflow"


@contextlib.contextmanager
def libpq_connection(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A libpq connection string without any secret, and the environment that carries them.

    The password may be in the URL's user part or its query (``?password=``; the query's wins,
    as in SQLAlchemy's own connections): either way it goes to ``PGPASSWORD`` in the child's
    environment, never on its command line, where any user of the machine can read it.
    ``?sslpassword=`` (the passphrase of the client key) has no environment variable: it goes
    into a temporary service file readable by the owner alone (``PGSERVICEFILE``, section
    ``[rotaflow]``, the connection string then starting ``service=rotaflow``), removed when the
    block ends, so the caller runs the child inside it. Every PostgreSQL client tool rotaflow
    starts gets its connection from here.
    """
    parsed = make_url(url)
    parts: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "dbname": parsed.database,
    }
    secrets: dict[str, str] = {"password": parsed.password} if parsed.password else {}
    for key, value in parsed.query.items():
        value = value if isinstance(value, str) else value[-1]
        if key in _LIBPQ_SECRETS:
            secrets[key] = value
        else:
            parts[key] = value
    env = dict(os.environ)
    if secrets.get("password"):
        env["PGPASSWORD"] = str(secrets["password"])
    in_file = {k: v for k, v in secrets.items() if k != "password" and v}
    if not in_file:
        yield _conninfo(parts), env
        return
    if "service" in parts:
        raise GateRefused(
            f"{mask_url(url)} names a libpq service and holds an sslpassword: rotaflow hands the "
            "sslpassword to pg_dump / pg_restore through a service file of its own, so it cannot use yours "
            "as well. Put the sslpassword in your service file (pg_service.conf) and leave it out of the URL."
        )
    handle, name = tempfile.mkstemp(prefix="rotaflow-pgservice-", suffix=".conf")  # 0600, the owner's alone
    service_file = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(f"[{_SERVICE}]\n")
            for key, value in in_file.items():
                if value != value.strip() or "\n" in value or "\r" in value:
                    raise GateRefused(
                        f"the {key} of {mask_url(url)} starts or ends with a space or holds a line break: "
                        "libpq's service file cannot carry it"
                    )
                out.write(f"{key}={value}\n")
        env["PGSERVICEFILE"] = str(service_file)
        yield _conninfo({"service": _SERVICE, **parts}), env
    finally:
        service_file.unlink(missing_ok=True)


def _conninfo(parts: dict[str, Any]) -> str:
    return " ".join(f"{k}={_libpq_value(str(v))}" for k, v in parts.items() if v is not None)


@contextlib.contextmanager
def pg_dump_command(
    tools: PostgresTools, url: str, *, snapshot: str, target: Path
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """The ``pg_dump`` command line of a dump of ``url``'s ``snapshot`` into ``target``, and its
    environment; valid inside the block (see ``libpq_connection``)."""
    with libpq_connection(url) as (conninfo, env):
        command = [
            tools.pg_dump,
            "--format=custom",
            f"--snapshot={snapshot}",
            "--no-password",
            f"--file={target}",
            f"--dbname={conninfo}",
        ]
        yield command, env


@contextlib.contextmanager
def pg_restore_command(tools: PostgresTools, url: str, dump: Path) -> Iterator[tuple[list[str], dict[str, str]]]:
    """The ``pg_restore`` command line of ``dump`` into the database at ``url``, and its
    environment; valid inside the block (see ``libpq_connection``)."""
    with libpq_connection(url) as (conninfo, env):
        command = [
            tools.pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            f"--jobs={tools.restore_jobs}",
            "--no-password",
            f"--dbname={conninfo}",
            str(dump),
        ]
        yield command, env


def _libpq_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --------------------------------------------------------------------------- tools


def tool_version(binary: str) -> tuple[int, str]:
    """The major version and the version line of a PostgreSQL client tool."""
    name = Path(binary).name
    found = shutil.which(binary)
    if found is None:
        raise GateRefused(
            f"{name} was not found ({binary!r}): install the PostgreSQL client tools "
            f"or set postgres.{name} in configs/backup.yaml"
        )
    try:
        stamp_ns = os.stat(found).st_mtime_ns
        line = _version_line(found, stamp_ns)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GateRefused(f"{name} could not be run ({binary!r}): {type(exc).__name__}") from exc
    match = _VERSION.search(line)
    if not match:
        raise GateRefused(f"{name} ({binary!r}) did not report a PostgreSQL version")
    return int(match.group(1)), line


@functools.lru_cache(maxsize=16)
def _version_line(path: str, _mtime_ns: int) -> str:
    """``<tool> --version``, asked once per program file (and again if the file changes)."""
    answer = subprocess.run(
        [path, "--version"], capture_output=True, text=True, errors="replace", timeout=30, check=False
    )
    lines = answer.stdout.strip().splitlines()
    return lines[0] if answer.returncode == 0 and lines else ""


def _in_background(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``fn(*args)`` on a daemon thread; its result (or exception) in the future."""
    future: Future[Any] = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=f"rotaflow-{getattr(fn, '__name__', 'probe')}", daemon=True).start()
    return future


def _version_probe(binary: str) -> Future[tuple[int, str]]:
    """``tool_version(binary)`` asked while the caller connects (a cold ``--version`` takes ~30 ms)."""
    return _in_background(tool_version, binary)


def _require_tool_not_older(
    binary: str, server_major: int, url: str, purpose: str, probe: Future[tuple[int, str]] | None = None
) -> tuple[int, str]:
    major, line = probe.result() if probe is not None else tool_version(binary)
    if major < server_major:
        name = Path(binary).name
        raise GateRefused(
            f"{name} {major} is older than the PostgreSQL {server_major} server at {mask_url(url)}: "
            f"it cannot {purpose} safely. Install the version {server_major} client tools "
            f"(postgresql-client-{server_major}) or point postgres.{name} in configs/backup.yaml at one."
        )
    return major, line


def _tail(text_: str, lines: int = 6) -> str:
    kept = [line for line in text_.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "no message"


# --------------------------------------------------------------------------- fingerprints


def _pg_table_stats(conn: Connection) -> tuple[str | None, dict[str, TableStat]]:
    """The Alembic revision and every table's row count and fingerprint, in two statements.

    Runs inside the caller's transaction (the dump's snapshot, or a read-only one): the
    session settings below are local to it.
    """
    conn.execute(text(_PG_SESSION))
    tables = sorted(inspect(conn).get_table_names())
    if not tables:
        return None, {}
    preparer = conn.dialect.identifier_preparer
    parts = [
        f"SELECT {n} AS n, count(*) AS rows, coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text AS total "
        f"FROM {preparer.quote(table)} AS t"
        for n, table in enumerate(tables)
    ]
    found = {int(n): (int(rows), str(total)) for n, rows, total in conn.execute(text(" UNION ALL ".join(parts)))}
    stats = {
        table: TableStat(rows=found[n][0], fingerprint=f"pg-hash64:{found[n][1]}") for n, table in enumerate(tables)
    }
    return _pg_revision(conn, tables), stats


def _pg_revision(conn: Connection, tables: list[str]) -> str | None:
    """What ``MigrationContext.get_current_revision`` answers, without configuring Alembic."""
    if "alembic_version" not in tables:
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise GateRefused(f"the database has more than one Alembic head ({', '.join(sorted(found))})")
    return str(found[0]) if found else None


# --------------------------------------------------------------------------- dump


def _pg_dump(url: str, folder: Path, tools: PostgresTools, room: RoomCheck | None = None) -> DumpResult:
    """One connection does it all: the server's facts, then, in a read-only REPEATABLE READ
    transaction, the snapshot ``pg_dump`` dumps, and the counts and fingerprints of that
    same snapshot, taken while ``pg_dump`` runs."""
    target = folder / DUMP_FILES["postgresql"]
    probe = _version_probe(tools.pg_dump)
    with _engine(url) as engine, engine.connect() as conn:
        server_num, server_version, size, encoding = conn.execute(text(_PG_FACTS)).one()
        conn.rollback()
        make_room(folder, room, int(size))
        _, tool_line = _require_tool_not_older(tools.pg_dump, int(server_num) // 10000, url, "dump it", probe)
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            with pg_dump_command(tools, url, snapshot=snapshot, target=target) as (command, env):
                process = subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
                )
                try:
                    revision, tables = _pg_table_stats(conn)  # counted while pg_dump runs, on the snapshot it dumps
                except BaseException:
                    process.kill()
                    process.wait()
                    raise
                _, errors = process.communicate()
    if process.returncode != 0:
        target.unlink(missing_ok=True)
        raise GateRefused(f"pg_dump of {mask_url(url)} failed (exit {process.returncode}): {_tail(errors)}")
    return DumpResult(
        path=target,
        dialect="postgresql",
        dump_format="pg_dump custom format",
        dump_tool=tool_line,
        server_version=str(server_version).split()[0],
        encoding=str(encoding),
        size_bytes=int(size),
        alembic_revision=revision,
        tables=tables,
    )


# --------------------------------------------------------------------------- restore into a new database


def _dump_major(dump_tool: str | None) -> int | None:
    match = _VERSION.search(dump_tool or "")
    return int(match.group(1)) if match else None


def _pg_restore(
    dump: Path,
    target_url: str,
    tools: PostgresTools,
    *,
    encoding: str | None,
    dump_tool: str | None,
    on_start: Callable[[int], None] | None = None,
) -> None:
    name = _pg_name(target_url)
    admin_url = _maintenance(target_url, tools)
    probe = _version_probe(tools.pg_restore)
    with _engine(admin_url, isolation_level="AUTOCOMMIT") as engine, engine.connect() as conn:
        server_major = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        restore_major, _ = _require_tool_not_older(tools.pg_restore, server_major, target_url, "restore into it", probe)
        made_by = _dump_major(dump_tool)
        if made_by is not None and restore_major < made_by:
            raise GateRefused(
                f"pg_restore {restore_major} cannot read a dump made by pg_dump {made_by}: "
                f"install the version {made_by} client tools"
            )
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            raise GateRefused(f"database {name} already exists: a restore goes into a new database")
        clause = ""
        if encoding and re.fullmatch(r"[A-Za-z0-9_]+", encoding):
            clause = f" ENCODING '{encoding}'"
        conn.execute(text(f"CREATE DATABASE {_quote(name)} TEMPLATE template0{clause}"))
    checkpoint("mid-restore")
    process: subprocess.Popen[str] | None = None
    try:
        with pg_restore_command(tools, target_url, dump) as (command, env):
            # its own process group: the parallel workers of --jobs can be stopped with it
            process = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,
            )
            if on_start is not None:
                on_start(process.pid)
            checkpoint("in-pg-restore")
            _, errors = process.communicate()
    except BaseException:
        if process is not None:
            _kill_group(process.pid)
            process.wait()
        PostgresDatabase(target_url, tools).drop()
        raise
    if process.returncode != 0:
        PostgresDatabase(target_url, tools).drop()
        raise GateRefused(
            f"pg_restore into {name} failed (exit {process.returncode}); the new database was dropped: {_tail(errors)}"
        )


def _kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads (the process alone when it leads none)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent to reap it is not)."""
    if Path("/proc").is_dir():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_orphaned_restore(pid: int, database: str, *, wait_seconds: float = 15.0) -> bool:
    """Stop the ``pg_restore`` a killed run left writing into ``database``; True when one was stopped.

    A process is stopped only while its command line is still ``pg_restore … dbname='<database>' …``
    (the id may have been given to another program since). With its process group: the
    workers of ``--jobs``. Without ``/proc`` nothing is checked nor stopped: dropping the
    database with FORCE then ends its connections, and it exits on the error.
    """
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not any(a.endswith(b"pg_restore") for a in argv) or not any(
        a.startswith(b"--dbname=") and f"dbname={_libpq_value(database)}".encode() in a for a in argv
    ):
        return False
    if not _running(pid):
        return False
    _kill_group(pid)
    deadline = time.monotonic() + wait_seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------- swap by rename


def _pg_swap(staged_url: str, live_url: str, keep_as: str, tools: PostgresTools, wait_seconds: float) -> Swap:
    staged, live = _pg_name(staged_url), _pg_name(live_url)
    _quote(keep_as)
    if tools.maintenance_database in (staged, live):
        raise GateRefused(f"the maintenance database {tools.maintenance_database} cannot be swapped")
    with _engine(_maintenance(live_url, tools), isolation_level="AUTOCOMMIT") as engine, engine.connect() as conn:

        def exists(name: str) -> bool:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None

        if not exists(staged):
            raise GateRefused(f"no restored database {staged} to swap in")
        if exists(keep_as):
            raise GateRefused(f"database {keep_as} already exists: choose another name for the previous database")
        had_live = exists(live)
        names = [staged, live] if had_live else [staged]
        try:
            for name in names:
                conn.execute(text(f"ALTER DATABASE {_quote(name)} WITH ALLOW_CONNECTIONS false"))
            checkpoint("mid-swap")
            deadline = time.monotonic() + wait_seconds
            while True:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = ANY(:names) AND pid <> pg_backend_pid()"
                    ),
                    {"names": names},
                )
                try:
                    conn.execute(text("BEGIN"))
                    if had_live:
                        conn.execute(text(f"ALTER DATABASE {_quote(live)} RENAME TO {_quote(keep_as)}"))
                    conn.execute(text(f"ALTER DATABASE {_quote(staged)} RENAME TO {_quote(live)}"))
                    conn.execute(text("COMMIT"))
                    break
                except Exception as exc:
                    conn.execute(text("ROLLBACK"))
                    if "being accessed by other users" not in str(exc) or time.monotonic() > deadline:
                        raise GateRefused(
                            f"could not switch {staged} in as {live}: {_tail(str(exc).splitlines()[0])}"
                        ) from exc
                    time.sleep(0.2)
        finally:
            for name in (live, keep_as, staged):
                if exists(name):
                    conn.execute(text(f"ALTER DATABASE {_quote(name)} WITH ALLOW_CONNECTIONS true"))
    parsed = make_url(live_url)
    return Swap(
        live_url=live_url,
        previous_url=parsed.set(database=keep_as).render_as_string(hide_password=False) if had_live else None,
        restored_from_url=staged_url,
    )
