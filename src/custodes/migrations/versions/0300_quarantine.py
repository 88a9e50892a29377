"""Quarantine of telemetry batches that keep failing: attempts, last error, when quarantined.

Revision ID: 0300_quarantine
Revises: 0100_telemetry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0300_quarantine"
down_revision = "0100_telemetry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telemetry_batches") as t:
        t.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        t.add_column(sa.Column("last_error", sa.Text()))
        t.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("telemetry_batches") as t:
        t.drop_column("quarantined_at")
        t.drop_column("last_error")
        t.drop_column("attempts")
