"""Ingest indexes: pending batches in arrival order, and a protected person's phone by device.

`Pipeline.pending_devices` orders the pending batches by id (oldest waiting first), and every
device turn asks whether the device is a protected person's phone; both were sequential scans.

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
    op.create_index("ix_protected_people_device_id", "protected_people", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_protected_people_device_id", "protected_people")
    op.drop_index("ix_telemetry_batches_waiting", "telemetry_batches")
