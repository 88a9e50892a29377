"""Ingest index: pending batches in arrival order.

`Pipeline.pending_devices` orders the pending batches by id (oldest waiting first): a sequential
scan without it. (A protected person's phone is found by device through the unique constraint
`uq_protected_people_device_id`, which is an index already.)

Revision ID: 1400_ingest
Revises: 0300_quarantine, 1300_proximity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1400_ingest"
down_revision = ("0300_quarantine", "1300_proximity")
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL AND quarantined_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_telemetry_batches_waiting", "telemetry_batches", ["id", "device_id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_telemetry_batches_waiting", "telemetry_batches")
