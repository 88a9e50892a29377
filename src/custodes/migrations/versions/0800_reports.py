"""Consented demographic records, read only by the fairness report.

Revision ID: 0800_reports
Revises: 0800_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800_reports"
down_revision = "0800_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demographic_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("attribute", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("consent_given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name="pk_demographic_records"),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name="fk_demographic_records_subject_id_subjects",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("subject_id", "attribute", name="uq_demographic_records_subject_id_attribute"),
    )
    op.create_index("ix_demographic_records_subject_id", "demographic_records", ["subject_id"])


def downgrade() -> None:
    op.drop_table("demographic_records")
