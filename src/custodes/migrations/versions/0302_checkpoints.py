"""Checkpoints of each subject's rule state, so late data can be re-judged from before its time.

Revision ID: 0302_checkpoints
Revises: 0100_telemetry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0302_checkpoints"
down_revision = "0100_telemetry"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "monitor_checkpoints",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", Json, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "as_of", name="pk_monitor_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("monitor_checkpoints")
