"""security: server-side console sessions, login throttling, operator scopes

Revision ID: 0010_security
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dcops.database

revision: str = "0010_security"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("expires_at", dcops.database.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_console_session_user_id", "console_session", ["user_id"])
    op.create_index("ix_console_session_digest", "console_session", ["digest"], unique=True)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("locked_until", dcops.database.UTCDateTime(), nullable=True),
    )
    op.create_table(
        "operator_scope",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("user_id", "agency_id", name="uq_operator_scope"),
    )
    op.create_index("ix_operator_scope_user_id", "operator_scope", ["user_id"])
    op.create_index("ix_operator_scope_agency_id", "operator_scope", ["agency_id"])


def downgrade() -> None:
    op.drop_table("operator_scope")
    op.drop_table("login_throttle")
    op.drop_index("ix_console_session_digest", table_name="console_session")
    op.drop_index("ix_console_session_user_id", table_name="console_session")
    op.drop_table("console_session")
