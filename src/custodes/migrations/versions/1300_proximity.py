"""Victim proximity: protected people (consent), their one latest position, proximity conditions.

Revision ID: 1300_proximity
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1300_proximity"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "protected_people",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("consent_given_at", When, nullable=False),
        sa.Column("consent_recorded_by", sa.String(128), nullable=False),
        sa.Column("consent_note", sa.Text(), nullable=False),
        sa.Column("consent_withdrawn_at", When),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_protected_people_agency_id_agencies"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name="fk_protected_people_device_id_devices"),
        sa.PrimaryKeyConstraint("id", name="pk_protected_people"),
        sa.UniqueConstraint("device_id", name="uq_protected_people_device_id"),
    )
    op.create_index("ix_protected_people_agency_id", "protected_people", ["agency_id"])
    op.create_table(
        "protected_positions",
        sa.Column("protected_id", sa.Uuid(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["protected_id"], ["protected_people.id"],
                                name="fk_protected_positions_protected_id_protected_people", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("protected_id", name="pk_protected_positions"),
    )
    op.create_table(
        "proximity_conditions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("protected_id", sa.Uuid(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("max_skew_s", sa.Float(), nullable=False),
        sa.Column("min_dwell_s", sa.Float(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_proximity_conditions_order_id_orders",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["protected_id"], ["protected_people.id"],
                                name="fk_proximity_conditions_protected_id_protected_people", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_proximity_conditions"),
    )
    op.create_index("ix_proximity_conditions_order_id", "proximity_conditions", ["order_id"])
    op.create_index("ix_proximity_conditions_protected_id", "proximity_conditions", ["protected_id"])


def downgrade() -> None:
    op.drop_table("proximity_conditions")
    op.drop_table("protected_positions")
    op.drop_table("protected_people")
