"""Rights: a live police trail grant can be revoked (by the owning agency) or withdrawn (by the
officer who asked), with who, when and why kept on the grant.

Revision ID: 1420_rights
Revises: 0800_trail_grants
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1420_rights"
down_revision = "0800_trail_grants"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("trail_grants") as batch:
        batch.add_column(sa.Column("revoked_by", sa.Uuid()))
        batch.add_column(sa.Column("revoked_at", When))
        batch.add_column(sa.Column("revocation_reason", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("trail_grants") as batch:
        batch.drop_column("revocation_reason")
        batch.drop_column("revoked_at")
        batch.drop_column("revoked_by")
