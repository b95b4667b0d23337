"""Alembic migrations go up and down on SQLite and PostgreSQL and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

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
    "block_versions",
    "swap_requests",
    "year_plans",
    "year_plan_rows",
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


def test_runs_published_before_versions_become_the_blocks_first_versions(database_url: str) -> None:
    """0002 numbers each block's earlier publishes in the order they finished; a rolled-back one is withdrawn."""
    engine = create_engine(database_url)
    try:
        upgrade(database_url, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO programs (id, key, name, timezone, current_version, created_at) "
                    "VALUES (1, 'p', 'P', 'UTC', 1, '2027-01-01T00:00:00+00:00')"
                )
            )
            for run, block, status, finished in (
                ("r2", "B1", "published", "2027-01-03T00:00:00+00:00"),
                ("r1", "B1", "rolled_back", "2027-01-02T00:00:00+00:00"),
                ("r3", "B2", "published", "2027-01-04T00:00:00+00:00"),
                ("r4", "B2", "infeasible", "2027-01-05T00:00:00+00:00"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO schedule_runs (id, program_id, version, block_id, status, summary, created_at, "
                        "finished_at) VALUES (:id, 1, 1, :block, :status, '{}', :at, :at)"
                    ),
                    {"id": run, "block": block, "status": status, "at": finished},
                )
        upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT block_id, version, run_id, status, reason FROM block_versions ORDER BY block_id, version")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("B1", 1, "r1", "withdrawn", "generate"),
            ("B1", 2, "r2", "published", "generate"),
            ("B2", 1, "r3", "published", "generate"),
        ]
    finally:
        downgrade(database_url, "base")
        engine.dispose()
