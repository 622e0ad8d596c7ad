"""agency's own servers: an owner agency on devices, a site that is an agency's premises

Revision ID: 0011a_device_owner
Revises: 0001
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011a_device_owner"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_site_agency_id", "agency", ["agency_id"], ["id"], ondelete="RESTRICT")
        batch.create_index("ix_site_agency_id", ["agency_id"])
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("owner_agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_device_owner_agency_id", "agency", ["owner_agency_id"], ["id"],
                                 ondelete="RESTRICT")
        batch.create_index("ix_device_owner_agency_id", ["owner_agency_id"])


def downgrade() -> None:
    with op.batch_alter_table("device") as batch:
        batch.drop_index("ix_device_owner_agency_id")
        batch.drop_constraint("fk_device_owner_agency_id", type_="foreignkey")
        batch.drop_column("owner_agency_id")
    with op.batch_alter_table("site") as batch:
        batch.drop_index("ix_site_agency_id")
        batch.drop_constraint("fk_site_agency_id", type_="foreignkey")
        batch.drop_column("agency_id")
