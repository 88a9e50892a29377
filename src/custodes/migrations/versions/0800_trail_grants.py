"""Police trail grants: one subject, one purpose, one window, decided by the owning agency.

Revision ID: 0800_trail_grants
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800_trail_grants"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trail_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requesting_agency_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("crime_reference", sa.String(64)),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("window_from", When, nullable=False),
        sa.Column("window_to", When, nullable=False),
        sa.Column("access_hours", sa.Integer(), nullable=False),
        sa.Column("requested_at", When, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.Uuid()),
        sa.Column("decided_at", When),
        sa.Column("decision_reason", sa.Text()),
        sa.Column("expires_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_trail_grants"),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name="fk_trail_grants_subject_id_subjects",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requesting_agency_id"], ["agencies.id"],
                                name="fk_trail_grants_requesting_agency_id_agencies"),
    )
    op.create_index("ix_trail_grants_subject_id", "trail_grants", ["subject_id"])
    op.create_index("ix_trail_grants_requested_by", "trail_grants", ["requested_by"])


def downgrade() -> None:
    op.drop_table("trail_grants")
