"""Trail compaction: each segment's level (0 as ingested, 1 an hour merged, 2 six hours merged) and a
partial index over the segments not yet in their final form, which is the compaction job's queue.

Revision ID: 1410_compaction
Revises: 0100_telemetry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1410_compaction"
down_revision = "0100_telemetry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trail_segments") as t:
        t.add_column(sa.Column("level", sa.SmallInteger(), nullable=False, server_default="0"))
    op.create_index("ix_trail_segments_unsettled", "trail_segments", ["device_id", "level", "t_start"],
                    postgresql_where=sa.text("level < 2"), sqlite_where=sa.text("level < 2"))
    if op.get_bind().dialect.name == "postgresql":
        # Compaction deletes nearly every row ingestion writes, while the rows that stay are few and
        # large: vacuum after a fixed number of dead rows (about an hour of a small fleet's uploads), not
        # after 20 % of the table, so the freed pages are reused by the next hours' inserts.
        op.execute("ALTER TABLE trail_segments SET (autovacuum_vacuum_scale_factor = 0.02, "
                   "autovacuum_vacuum_threshold = 10000)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE trail_segments RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)")
    op.drop_index("ix_trail_segments_unsettled", table_name="trail_segments")
    with op.batch_alter_table("trail_segments") as t:
        t.drop_column("level")
