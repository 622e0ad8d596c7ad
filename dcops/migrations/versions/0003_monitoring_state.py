"""monitoring state: settings, latest state, history, interfaces, poller status

Revision ID: 0003_monitoring_state
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dcops.database

revision: str = "0003_monitoring_state"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poller_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", dcops.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", dcops.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("cycle_duration_s", sa.Float(), nullable=False),
        sa.Column("cycle_interval_s", sa.Float(), nullable=False),
        sa.Column("polls_total", sa.BigInteger(), nullable=False),
        sa.Column("overruns_total", sa.BigInteger(), nullable=False),
        sa.Column("errors_total", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "device_state",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("last_poll_at", dcops.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", dcops.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        sa.Column("varbinds", sa.Integer(), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.Column("table_rows", sa.JSON(), nullable=False),
        sa.Column("uptime_ticks", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_table(
        "interface",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("ifindex", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("alias", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("speed_bps", sa.BigInteger(), nullable=True),
        sa.Column("admin_up", sa.Boolean(), nullable=True),
        sa.Column("oper_up", sa.Boolean(), nullable=True),
        sa.Column("last_change", dcops.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unused", sa.Boolean(), nullable=False),
        sa.Column("updated_at", dcops.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "ifindex", name="uq_interface_device_ifindex"),
    )
    op.create_index(op.f("ix_interface_device_id"), "interface", ["device_id"], unique=False)
    op.create_table(
        "metric_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("at", dcops.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolution_s", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_metric_history_device_res_at", "metric_history", ["device_id", "resolution_s", "at"],
                    unique=False)
    op.create_table(
        "monitoring_setting",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("snmp_port", sa.Integer(), nullable=False),
        sa.Column("v3_only", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id"),
    )


def downgrade() -> None:
    op.drop_table("monitoring_setting")
    op.drop_index("ix_metric_history_device_res_at", table_name="metric_history")
    op.drop_table("metric_history")
    op.drop_index(op.f("ix_interface_device_id"), table_name="interface")
    op.drop_table("interface")
    op.drop_table("device_state")
    op.drop_table("poller_status")
