"""year plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 15:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "year_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False, comment="the program version it was planned from"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="published | superseded"),
        sa.Column("solve_status", sa.String(length=16), nullable=False, comment="optimal | feasible"),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("best_bound", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_year_plans_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_year_plans")),
        sa.UniqueConstraint("program_id", "number", name=op.f("uq_year_plans_program_id")),
    )
    with op.batch_alter_table("year_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_year_plans_program_id"), ["program_id"], unique=False)
    op.create_table(
        "year_plan_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("block_id", sa.String(length=64), nullable=False),
        sa.Column("rotation_id", sa.String(length=64), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False, comment="planned | locked | manual"),
        sa.ForeignKeyConstraint(["plan_id"], ["year_plans.id"], name=op.f("fk_year_plan_rows_plan_id_year_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_year_plan_rows")),
    )
    with op.batch_alter_table("year_plan_rows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_year_plan_rows_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("year_plan_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_year_plan_rows_plan_id"))
    op.drop_table("year_plan_rows")
    with op.batch_alter_table("year_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_year_plans_program_id"))
    op.drop_table("year_plans")
