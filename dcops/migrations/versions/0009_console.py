"""demo: the objects the demo created (it touches nothing else)

Revision ID: 0009_console
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_console"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demo_object",
        sa.Column("kind", sa.String(length=60), primary_key=True),
        sa.Column("object_id", sa.Integer(), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("demo_object")
