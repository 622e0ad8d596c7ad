"""monitoring discovery: discovery results, latest sensor readings, sensor threshold overrides

Revision ID: 0007_monitoring_discovery
Revises: 0004_monitoring_alerts
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dcops.database

revision: str = "0007_monitoring_discovery"
down_revision: str | None = "0004_monitoring_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003_monitoring_state"


def upgrade() -> None:
    op.create_table('device_discovery',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('sys_object_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sys_descr', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('profiles', sa.JSON(), nullable=True),
    sa.Column('discovered_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('device_sensors',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sensors', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('sensor_threshold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('sensor_class', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('sensor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('high', sa.Float(), nullable=True),
    sa.Column('low', sa.Float(), nullable=True),
    sa.Column('high_warn', sa.Float(), nullable=True),
    sa.Column('low_warn', sa.Float(), nullable=True),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('updated_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'sensor_class', 'sensor', name='uq_sensor_threshold')
    )
    op.create_index(op.f('ix_sensor_threshold_device_id'), 'sensor_threshold', ['device_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sensor_threshold_device_id'), table_name='sensor_threshold')
    op.drop_table('sensor_threshold')
    op.drop_table('device_sensors')
    op.drop_table('device_discovery')
