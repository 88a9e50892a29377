"""Telemetry: raw batches, per-device cursors, packed trail segments and monitor state.

Revision ID: 0100_telemetry
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100_telemetry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "telemetry_batches",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", When, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("fix_count", sa.Integer(), nullable=False),
        sa.Column("fixes", sa.LargeBinary()),
        sa.Column("statuses", Json, nullable=False),
        sa.Column("rejected", Json, nullable=False),
        sa.Column("processed_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry_batches"),
        sa.UniqueConstraint("device_id", "seq", name="uq_telemetry_batches_device_id_seq"),
    )
    op.create_index("ix_telemetry_batches_pending", "telemetry_batches", ["device_id", "seq"],
                    postgresql_where=sa.text("processed_at IS NULL"), sqlite_where=sa.text("processed_at IS NULL"))
    op.create_table(
        "telemetry_cursors",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("batches", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When),
        sa.PrimaryKeyConstraint("device_id", name="pk_telemetry_cursors"),
    )
    op.create_table(
        "trail_segments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("batch_seq", sa.BigInteger(), nullable=False),
        sa.Column("t_start", When, nullable=False),
        sa.Column("t_end", When, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trail_segments"),
    )
    op.create_index("ix_trail_segments_subject_time", "trail_segments", ["subject_id", "t_start"])
    op.create_index("ix_trail_segments_t_end", "trail_segments", ["t_end"])
    op.create_table(
        "monitor_states",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("state", Json, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("ticked_at", When),
        sa.PrimaryKeyConstraint("subject_id", name="pk_monitor_states"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Segments are zlib-packed already: don't let TOAST try again. Raw batches are JSON text:
        # lz4 compresses them about 4x at little CPU cost.
        op.execute("ALTER TABLE trail_segments ALTER COLUMN data SET STORAGE EXTERNAL")
        op.execute("ALTER TABLE telemetry_batches ALTER COLUMN fixes SET STORAGE EXTERNAL")
        op.execute("ALTER TABLE telemetry_batches ALTER COLUMN raw SET COMPRESSION lz4")


def downgrade() -> None:
    op.drop_table("monitor_states")
    op.drop_table("trail_segments")
    op.drop_table("telemetry_cursors")
    op.drop_index("ix_telemetry_batches_pending", table_name="telemetry_batches")
    op.drop_table("telemetry_batches")
