"""device_type.max_power_w may be unknown (NULL) instead of 0 W

Revision ID: 0013_device_type_power
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_device_type_power"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("device_type") as batch:
        batch.alter_column("max_power_w", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE device_type SET max_power_w = 0 WHERE max_power_w IS NULL")
    with op.batch_alter_table("device_type") as batch:
        batch.alter_column("max_power_w", existing_type=sa.Integer(), nullable=False)
