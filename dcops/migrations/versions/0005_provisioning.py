"""provisioning: hypervisor access, agency SSH keys, jobs and job events

Revision ID: 0005_provisioning
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dcops.database

revision: str = "0005_provisioning"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agency_ssh_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('authorized_keys', sa.Text(), nullable=False),
    sa.Column('updated_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agency_id')
    )
    op.create_table('hypervisor_access',
    sa.Column('ssh_port', sa.Integer(), nullable=False),
    sa.Column('ssh_user', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('libvirt_uri', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('storage_pool', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pool_path', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('base_image', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('network', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ram_mib_per_gib', sa.Integer(), nullable=False),
    sa.Column('disk_mib_per_gib', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.Integer(), nullable=False),
    sa.Column('domain_type', sa.String(length=8), nullable=False),
    sa.Column('host_key', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('host_key_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('preflight_ok', sa.Boolean(), nullable=True),
    sa.Column('preflight_message', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('preflight_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['credential_id'], ['credential.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id')
    )
    with op.batch_alter_table('hypervisor_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hypervisor_access_credential_id'), ['credential_id'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('vm_id', sa.Integer(), nullable=True),
    sa.Column('vm_name', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('host_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('retry_of', sa.Integer(), nullable=True),
    sa.Column('extravars', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('timeout_s', sa.Integer(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('rc', sa.Integer(), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('failed_task', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('stdout', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['device.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vm_id'], ['virtual_machine.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_host_id'), ['host_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_vm_id'), ['vm_id'], unique=False)

    op.create_table('job_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('task', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('changed', sa.Boolean(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id', 'seq')
    )
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_event_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_event_job_id'))

    op.drop_table('job_event')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_vm_id'))
        batch_op.drop_index(batch_op.f('ix_job_status'))
        batch_op.drop_index(batch_op.f('ix_job_request_id'))
        batch_op.drop_index(batch_op.f('ix_job_host_id'))
        batch_op.drop_index(batch_op.f('ix_job_agency_id'))

    op.drop_table('job')
    with op.batch_alter_table('hypervisor_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hypervisor_access_credential_id'))

    op.drop_table('hypervisor_access')
    op.drop_table('agency_ssh_keys')
