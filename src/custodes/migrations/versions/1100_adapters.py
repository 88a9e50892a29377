"""Per-device adapters for Traccar Client (OsmAnd) and OwnTracks, off by default.

Revision ID: 1100_adapters
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1100_adapters"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_adapters",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_digest", sa.String(64)),
        sa.Column("username", sa.String(64)),
        sa.Column("password_digest", sa.String(64)),
        sa.Column("payload_key_sealed", sa.LargeBinary()),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_device_adapters_device_id_devices",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_adapters"),
        sa.UniqueConstraint("token_digest", name="uq_device_adapters_token_digest"),
        sa.UniqueConstraint("username", name="uq_device_adapters_username"),
    )


def downgrade() -> None:
    op.drop_table("device_adapters")
