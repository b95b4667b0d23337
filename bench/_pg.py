"""A scratch PostgreSQL database for a bench script: made on the server at a URL, dropped afterwards."""

from __future__ import annotations

import uuid


def create_pg(server: str) -> str:
    """A new empty database on ``server`` (a PostgreSQL URL); its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"rotaflow_bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_pg(server: str, url: str) -> None:
    """Drop the database at ``url`` (made by ``create_pg`` on ``server``), its connections closed first."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()
