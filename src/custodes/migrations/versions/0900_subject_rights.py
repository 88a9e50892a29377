"""The person's own access and voice, in-person reporting, necessity records and early reviews.

Revision ID: 0900_subject_rights
Revises: 0200_checkins
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0900_subject_rights"
down_revision = "0200_checkins"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)


def fk(table: str, col: str, ref: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    ref_table = ref.split(".")[0]
    return sa.ForeignKeyConstraint([col], [ref], name=f"fk_{table}_{col}_{ref_table}", ondelete=ondelete)


def upgrade() -> None:
    with op.batch_alter_table("checkin_prompts") as batch:
        batch.add_column(sa.Column("method", sa.String(16), nullable=False, server_default="face"))
    op.create_table(
        "necessity_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("necessity", sa.Text(), nullable=False),
        sa.Column("proportionality", sa.Text(), nullable=False),
        sa.Column("vulnerability_and_health", sa.Text(), nullable=False),
        sa.Column("recorded_at", When, nullable=False),
        sa.Column("recorded_by", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name="pk_necessity_records"),
        fk("necessity_records", "order_id", "orders.id", "CASCADE"),
    )
    op.create_index("ix_necessity_records_order_id", "necessity_records", ["order_id"])
    op.create_table(
        "review_triggers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("source_id", sa.Uuid()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_due", When, nullable=False),
        sa.Column("new_due", When, nullable=False),
        sa.Column("at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_triggers"),
        fk("review_triggers", "order_id", "orders.id", "CASCADE"),
    )
    op.create_index("ix_review_triggers_order_id", "review_triggers", ["order_id"])
    op.create_table(
        "in_person_arrangements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("grounds", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("window_start", sa.String(5), nullable=False),
        sa.Column("window_end", sa.String(5), nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("starts_at", When, nullable=False),
        sa.Column("ended_at", When),
        sa.Column("end_reason", sa.Text()),
        sa.Column("created_by", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name="pk_in_person_arrangements"),
        fk("in_person_arrangements", "subject_id", "subjects.id", "CASCADE"),
    )
    op.create_index("ix_in_person_arrangements_subject_id", "in_person_arrangements", ["subject_id"])
    op.create_table(
        "in_person_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_id", sa.Uuid()),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("centre", sa.String(200), nullable=False),
        sa.Column("confirmed_by", sa.Uuid(), nullable=False),
        sa.Column("reported_at", When, nullable=False),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_in_person_reports"),
        fk("in_person_reports", "subject_id", "subjects.id", "CASCADE"),
        fk("in_person_reports", "prompt_id", "checkin_prompts.id", "SET NULL"),
        fk("in_person_reports", "device_id", "devices.id"),
    )
    op.create_index("ix_in_person_reports_subject_id", "in_person_reports", ["subject_id"])
    op.create_index("ix_in_person_reports_reported_at", "in_person_reports", ["reported_at"])
    op.create_table(
        "subject_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("issued_at", When, nullable=False),
        sa.Column("issued_by", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name="pk_subject_credentials"),
        sa.UniqueConstraint("subject_id", name="uq_subject_credentials_subject_id"),
        sa.UniqueConstraint("username", name="uq_subject_credentials_username"),
        fk("subject_credentials", "subject_id", "subjects.id", "CASCADE"),
    )
    op.create_table(
        "representations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attachment", sa.LargeBinary()),
        sa.Column("attachment_name", sa.String(200)),
        sa.Column("attachment_type", sa.String(64)),
        sa.Column("attachment_size", sa.Integer()),
        sa.Column("attachment_sha256", sa.String(64)),
        sa.Column("submitted_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_representations"),
        fk("representations", "subject_id", "subjects.id", "CASCADE"),
    )
    op.create_index("ix_representations_subject_id", "representations", ["subject_id"])
    op.create_table(
        "case_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("grounds", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("decided_at", When),
        sa.Column("decided_by", sa.Uuid()),
        sa.Column("decision", sa.String(16)),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_case_tasks"),
        fk("case_tasks", "subject_id", "subjects.id", "CASCADE"),
    )
    for col in ("subject_id", "status", "due_at"):
        op.create_index(f"ix_case_tasks_{col}", "case_tasks", [col])


def downgrade() -> None:
    for table in ("case_tasks", "representations", "subject_credentials", "in_person_reports",
                  "in_person_arrangements", "review_triggers", "necessity_records"):
        op.drop_table(table)
    with op.batch_alter_table("checkin_prompts") as batch:
        batch.drop_column("method")
