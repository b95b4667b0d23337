"""Engines, sessions and the unit of work.

Every session made here hides soft-deleted rows unless a statement asks for them with
``.execution_options(include_deleted=True)``.

The layers above name the engine, the session and the error a commit raises on a taken unique key through
this module (``Engine``, ``Session``, ``IntegrityError``): they import nothing from SQLAlchemy themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria
from sqlalchemy.pool import NullPool

from rotaflow.configs.settings import Settings, get_settings
from rotaflow.db.models import SoftDeleteMixin
from rotaflow.files import private_dir, private_file

__all__ = [
    "Engine",
    "IntegrityError",
    "Session",
    "UnitOfWork",
    "after_commit",
    "bound_engine",
    "dispose_engines",
    "engine_for",
    "make_engine",
    "private_sqlite_file",
    "session_factory",
    "unpooled_engine",
]


class RotaflowSession(Session):
    """A session whose queries exclude soft-deleted rows by default."""


@event.listens_for(RotaflowSession, "do_orm_execute")
def _hide_deleted(state: ORMExecuteState) -> None:
    if (
        (state.is_select or state.is_update)
        and not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get("include_deleted", False)
    ):
        state.statement = state.statement.options(
            with_loader_criteria(
                SoftDeleteMixin,
                lambda cls: cls.deleted_at.is_(None),
                include_aliases=True,
            )
        )


def private_sqlite_file(url: str) -> None:
    """A SQLite database file at ``url`` is the owner's alone: made (0600, in folders made 0700) before
    anything opens it, or made 0600 when it exists; other URLs are left alone."""
    parsed = make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        private_file(private_dir(Path(database).parent) / Path(database).name)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets foreign keys on, PostgreSQL a sized pool.

    A SQLite database file is the owner's alone (0600; the folders made for it 0700): its
    journal files take the same mode.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        private_sqlite_file(url)
    else:
        kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


_ENGINES: dict[tuple[str, int, int], Engine] = {}


def engine_for(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """One engine per URL per process."""
    key = (url, pool_size, max_overflow)
    if key not in _ENGINES:
        _ENGINES[key] = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
    return _ENGINES[key]


def dispose_engines() -> None:
    """Close every pooled connection this process holds (before dropping a database)."""
    while _ENGINES:
        _, engine = _ENGINES.popitem()
        engine.dispose()


_UNPOOLED: dict[str, Engine] = {}
_UNPOOLED_MUTEX = threading.Lock()


def unpooled_engine(engine: Engine) -> Engine:
    """An engine on ``engine``'s database that takes no connection from ``engine``'s pool (a committing session
    still holds one of those while its after-commit hooks run): one unpooled engine per database, kept.
    SQLite keeps ``engine`` (an in-memory database exists only on its own connection)."""
    if engine.dialect.name == "sqlite":
        return engine
    url = engine.url.render_as_string(hide_password=False)
    with _UNPOOLED_MUTEX:
        if url not in _UNPOOLED:
            _UNPOOLED[url] = create_engine(engine.url, poolclass=NullPool)
        return _UNPOOLED[url]


def bound_engine(session: Session) -> Engine:
    """The engine ``session`` runs on (the engine of its connection, when it is bound to one)."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once ``session``'s transaction commits (never when it rolls back), and only once."""

    def committed(_: Session) -> None:
        callback()

    event.listen(session, "after_commit", committed, once=True)


def session_factory(engine: Engine) -> sessionmaker[RotaflowSession]:
    return sessionmaker(bind=engine, class_=RotaflowSession, expire_on_commit=False)


class UnitOfWork:
    """A transaction scope: everything done inside rolls back unless ``commit()`` is called."""

    def __init__(self, engine: Engine | None = None, *, settings: Settings | None = None) -> None:
        if engine is None:
            settings = settings or get_settings()
            engine = engine_for(settings.resolved_database_url, settings.pool_size, settings.max_overflow)
        self.engine = engine
        self._factory = session_factory(engine)
        self.session: RotaflowSession | None = None
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.session is not None
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None, "commit() outside the unit of work"
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        assert self.session is not None
        self.session.rollback()

    @property
    def s(self) -> RotaflowSession:
        assert self.session is not None, "the unit of work is not open"
        return self.session


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[UnitOfWork]:
    with UnitOfWork(engine) as uow:
        yield uow
