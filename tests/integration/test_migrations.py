"""Alembic migrations go up and down on SQLite and PostgreSQL and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from rotaflow.db.migrate import current_revision, downgrade, head_revision, upgrade
from rotaflow.db.models import Base

TABLES = {
    "programs",
    "program_versions",
    "people",
    "blocks",
    "shift_types",
    "rotations",
    "rotation_assignments",
    "coverage_requirements",
    "absences",
    "requests",
    "schedule_runs",
    "assignments",
    "audit_log",
}


def test_upgrade_to_head_and_downgrade_to_base(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        upgrade(database_url)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
        downgrade(database_url, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)  # and up again after a full round trip
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds no difference between the migrated schema and the models."""
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
