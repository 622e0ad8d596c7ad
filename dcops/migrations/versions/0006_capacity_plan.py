"""budget plan: stored growth assumptions per agency

Revision ID: 0006_capacity_plan
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dcops.database

revision: str = "0006_capacity_plan"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_growth_assumption",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("vcpus_per_year", sa.Float(), nullable=True),
        sa.Column("ram_gib_per_year", sa.Float(), nullable=True),
        sa.Column("disk_gib_per_year", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", dcops.database.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_plan_growth_assumption_agency_id", "plan_growth_assumption", ["agency_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_plan_growth_assumption_agency_id", table_name="plan_growth_assumption")
    op.drop_table("plan_growth_assumption")
