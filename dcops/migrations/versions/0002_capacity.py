"""capacity requests, their lines, events and reserved VMs

Revision ID: 0002_capacity
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dcops.database

revision: str = "0002_capacity"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capacity_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("justification", sa.String(length=2000), nullable=False),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("cluster.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_reason", sa.String(length=2000), nullable=False),
        sa.Column("created_at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dcops.database.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_capacity_request_agency_id", "capacity_request", ["agency_id"])
    op.create_index("ix_capacity_request_status", "capacity_request", ["status"])
    op.create_table(
        "capacity_request_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("capacity_request.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name_prefix", sa.String(length=42), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("vcpus", sa.Integer(), nullable=False),
        sa.Column("ram_gib", sa.Integer(), nullable=False),
        sa.Column("disk_gib", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("cluster.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("anti_affinity_group", sa.String(length=50), nullable=True),
    )
    op.create_index("ix_capacity_request_item_request_id", "capacity_request_item", ["request_id"])
    op.create_table(
        "capacity_request_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("capacity_request.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
    )
    op.create_index("ix_capacity_request_event_request_id", "capacity_request_event", ["request_id"])
    op.create_table(
        "capacity_request_vm",
        sa.Column("vm_id", sa.Integer(), sa.ForeignKey("virtual_machine.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("capacity_request.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("anti_affinity_group", sa.String(length=50), nullable=True),
    )
    op.create_index("ix_capacity_request_vm_request_id", "capacity_request_vm", ["request_id"])


def downgrade() -> None:
    op.drop_table("capacity_request_vm")
    op.drop_table("capacity_request_event")
    op.drop_table("capacity_request_item")
    op.drop_table("capacity_request")
