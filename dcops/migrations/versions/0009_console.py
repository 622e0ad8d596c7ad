"""console: the objects the demo created (it touches nothing else); flash messages kept server-side

Revision ID: 0009_console
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dcops.database

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
    op.create_table(
        "web_flash",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column("created_at", dcops.database.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_web_flash_session_key", "web_flash", ["session_key"])


def downgrade() -> None:
    op.drop_index("ix_web_flash_session_key", table_name="web_flash")
    op.drop_table("web_flash")
    op.drop_table("demo_object")
