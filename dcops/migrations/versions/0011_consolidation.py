"""consolidation: agency applications, migration waves, their events and VMs, showback assumptions

Revision ID: 0011_consolidation
Revises: 0011a_device_owner
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dcops.database

revision: str = "0011_consolidation"
down_revision: str | None = "0011a_device_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0002_capacity"


def upgrade() -> None:
    op.create_table(
        "migration_wave",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("created_at", dcops.database.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "agency_application",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("criticality", sa.String(length=10), nullable=False),
        sa.Column("data_classification", sa.String(length=14), nullable=False),
        sa.Column("owner_contact", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.Column("hosting", sa.String(length=14), nullable=False),
        sa.Column("server_device_id", sa.Integer(), sa.ForeignKey("device.id", ondelete="SET NULL"), nullable=True),
        sa.Column("est_vcpus", sa.Integer(), nullable=False),
        sa.Column("est_ram_gib", sa.Integer(), nullable=False),
        sa.Column("est_disk_gib", sa.Integer(), nullable=False),
        sa.Column("est_vm_count", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("wave_id", sa.Integer(), sa.ForeignKey("migration_wave.id", ondelete="RESTRICT"), nullable=True),
        sa.Column("capacity_request_id", sa.Integer(), sa.ForeignKey("capacity_request.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("updated_at", dcops.database.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("agency_id", "name", name="uq_agency_application_name"),
    )
    for column in ("agency_id", "server_device_id", "status", "wave_id", "capacity_request_id"):
        op.create_index(f"ix_agency_application_{column}", "agency_application", [column])
    op.create_table(
        "agency_application_vm",
        sa.Column("vm_id", sa.Integer(), sa.ForeignKey("virtual_machine.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("agency_application.id", ondelete="CASCADE"),
                  nullable=False),
    )
    op.create_index("ix_agency_application_vm_application_id", "agency_application_vm", ["application_id"])
    op.create_table(
        "agency_application_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("application_id", sa.Integer(), sa.ForeignKey("agency_application.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("at", dcops.database.UTCDateTime(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("from_status", sa.String(length=10), nullable=True),
        sa.Column("to_status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
    )
    op.create_index("ix_agency_application_event_application_id", "agency_application_event", ["application_id"])
    op.create_table(
        "showback_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("amortisation_years", sa.Float(), nullable=False),
        sa.Column("tariff_idr_per_kwh", sa.Float(), nullable=False),
        sa.Column("pue", sa.Float(), nullable=False),
        sa.Column("load_factor", sa.Float(), nullable=False),
        sa.Column("overhead_percent", sa.Float(), nullable=False),
        sa.Column("cpu_weight", sa.Float(), nullable=False),
        sa.Column("own_server_price_idr", sa.BigInteger(), nullable=False),
        sa.Column("own_server_power_w", sa.Integer(), nullable=False),
        sa.Column("own_pue", sa.Float(), nullable=False),
        sa.Column("own_overhead_percent", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", dcops.database.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("showback_settings")
    op.drop_table("agency_application_event")
    op.drop_table("agency_application_vm")
    op.drop_table("agency_application")
    op.drop_table("migration_wave")
