"""monitoring alerts: alerts, alert events, silences, notification channels and attempts

Revision ID: 0004_monitoring_alerts
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import dcops.database

revision: str = "0004_monitoring_alerts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notification_channel',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sa.String(length=14), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('smtp_host', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_starttls', sa.Boolean(), nullable=False),
    sa.Column('smtp_username', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email_from', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('email_to', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('severities', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('rules', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret_blob', sa.LargeBinary(), nullable=True),
    sa.Column('secret_fields', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('device_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('open_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('started_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fired_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_true_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ack_comment', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('resolved_at', dcops.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('flaps', sa.Integer(), nullable=False),
    sa.Column('notified', sa.Boolean(), nullable=False),
    sa.Column('suppressed', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_resolved_at'), ['resolved_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_severity'), ['severity'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_state'), ['state'], unique=False)

    op.create_table('silence',
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=10), nullable=True),
    sa.Column('starts_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('silence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_silence_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_silence_ends_at'), ['ends_at'], unique=False)

    op.create_table('alert_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_event_alert_id'), ['alert_id'], unique=False)

    op.create_table('notification_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.Integer(), nullable=True),
    sa.Column('at', dcops.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channel.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notification_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attempt_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_attempt_channel_id'), ['channel_id'], unique=False)


def downgrade() -> None:
    op.drop_table('notification_attempt')
    op.drop_table('alert_event')
    op.drop_table('silence')
    op.drop_table('alert')
    op.drop_table('notification_channel')
