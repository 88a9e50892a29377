"""The console's operational records: quarterly order reviews, device history, alert assignment.

Revision ID: 0700_console_ops
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0700_console_ops"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "order_reviews",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.Uuid(), nullable=False),
        sa.Column("reviewed_by_name", sa.String(64), nullable=False),
        sa.Column("reviewed_at", When, nullable=False),
        sa.Column("was_due", When, nullable=False),
        sa.Column("next_review_due", When, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_reviews_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_reviews")),
    )
    op.create_index(op.f("ix_order_reviews_order_id"), "order_reviews", ["order_id"])
    op.create_table(
        "device_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64)),
        sa.Column("actor_name", sa.String(64)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Uuid()),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_device_events_device_id_devices"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_events")),
    )
    op.create_index(op.f("ix_device_events_device_id"), "device_events", ["device_id"])
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.Uuid()))
        batch_op.add_column(sa.Column("assigned_at", When))
        batch_op.create_index(batch_op.f("ix_alerts_assigned_to"), ["assigned_to"])


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_assigned_to"))
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assigned_to")
    op.drop_index(op.f("ix_device_events_device_id"), "device_events")
    op.drop_table("device_events")
    op.drop_index(op.f("ix_order_reviews_order_id"), "order_reviews")
    op.drop_table("order_reviews")
