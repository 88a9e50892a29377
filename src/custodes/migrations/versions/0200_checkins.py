"""Face check-ins and their review queue: enrolments, sealed photos, prompts, attempts, review.

Revision ID: 0200_checkins
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_checkins"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
When = sa.DateTime(timezone=True)

ADVERSE_NEEDS_TWO_REVIEWERS = (
    "outcome IS NULL OR outcome <> 'different_person' OR ("
    "first_decision = 'different_person' AND second_decision = 'different_person' "
    "AND first_reviewer_id IS NOT NULL AND second_reviewer_id IS NOT NULL "
    "AND first_reviewer_id <> second_reviewer_id)"
)


def fk(table: str, col: str, ref: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    ref_table = ref.split(".")[0]
    return sa.ForeignKeyConstraint([col], [ref], name=f"fk_{table}_{col}_{ref_table}", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "face_enrolments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("template_sealed", sa.LargeBinary()),
        sa.Column("key_id", sa.String(40)),
        sa.Column("engine_version", sa.String(300), nullable=False),
        sa.Column("image_count", sa.Integer(), nullable=False),
        sa.Column("quality", Json, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("created_by", sa.Uuid()),
        sa.Column("ended_at", When),
        sa.Column("ended_by", sa.Uuid()),
        sa.Column("end_reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_face_enrolments"),
        fk("face_enrolments", "subject_id", "subjects.id", "CASCADE"),
    )
    op.create_index("ix_face_enrolments_subject_id", "face_enrolments", ["subject_id"])
    op.create_table(
        "face_photos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("enrolment_id", sa.Uuid()),
        sa.Column("attempt_id", sa.Uuid()),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary()),
        sa.Column("key_id", sa.String(40)),
        sa.Column("created_at", When, nullable=False),
        sa.Column("deleted_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_face_photos"),
        fk("face_photos", "subject_id", "subjects.id", "CASCADE"),
        fk("face_photos", "enrolment_id", "face_enrolments.id"),
    )
    for col in ("subject_id", "enrolment_id", "attempt_id"):
        op.create_index(f"ix_face_photos_{col}", "face_photos", [col])
    op.create_table(
        "checkin_days",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("prompts", sa.Integer(), nullable=False),
        sa.Column("drawn_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkin_days"),
        sa.UniqueConstraint("subject_id", "day", name="uq_checkin_days_subject_id_day"),
        fk("checkin_days", "subject_id", "subjects.id", "CASCADE"),
    )
    op.create_table(
        "checkin_prompts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("opens_at", When, nullable=False),
        sa.Column("closes_at", When, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("challenge", Json),
        sa.Column("outcome", sa.String(16)),
        sa.Column("reason", sa.String(40)),
        sa.Column("decision", Json),
        sa.Column("decided_at", When),
        sa.Column("device_id", sa.Uuid()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures_to_acquire", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkin_prompts"),
        sa.UniqueConstraint("subject_id", "opens_at", name="uq_checkin_prompts_subject_id_opens_at"),
        # The machine writes only these three; adverse outcomes live on review items.
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('verified', 'not_verified', 'inconclusive')",
                           name="ck_checkin_prompts_machine_outcome"),
        fk("checkin_prompts", "subject_id", "subjects.id", "CASCADE"),
        fk("checkin_prompts", "order_id", "orders.id", "CASCADE"),
        fk("checkin_prompts", "device_id", "devices.id"),
    )
    op.create_index("ix_checkin_prompts_subject_id", "checkin_prompts", ["subject_id"])
    op.create_index("ix_checkin_prompts_opens_at", "checkin_prompts", ["opens_at"])
    op.create_index("ix_checkin_prompts_closes_at", "checkin_prompts", ["closes_at"])
    op.create_table(
        "checkin_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prompt_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("submitted_at", When, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("threshold", sa.Float()),
        sa.Column("target_fmr", sa.Float()),
        sa.Column("model_version", sa.String(300), nullable=False),
        sa.Column("quality", Json, nullable=False),
        sa.Column("liveness", Json),
        sa.Column("counts_as_failure", sa.Boolean(), nullable=False),
        sa.Column("failure_to_acquire", sa.Boolean(), nullable=False),
        sa.Column("enrolment_id", sa.Uuid()),
        sa.Column("probe_photo_id", sa.Uuid()),
        sa.PrimaryKeyConstraint("id", name="pk_checkin_attempts"),
        sa.CheckConstraint("outcome IN ('verified', 'not_verified', 'inconclusive')",
                           name="ck_checkin_attempts_machine_outcome"),
        fk("checkin_attempts", "prompt_id", "checkin_prompts.id", "CASCADE"),
        fk("checkin_attempts", "subject_id", "subjects.id", "CASCADE"),
        fk("checkin_attempts", "device_id", "devices.id"),
        fk("checkin_attempts", "enrolment_id", "face_enrolments.id"),
        fk("checkin_attempts", "probe_photo_id", "face_photos.id"),
    )
    for col in ("prompt_id", "subject_id", "submitted_at"):
        op.create_index(f"ix_checkin_attempts_{col}", "checkin_attempts", [col])
    op.create_table(
        "review_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("prompt_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_id", sa.Uuid()),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("machine_outcome", sa.String(16), nullable=False),
        sa.Column("score", sa.Float()),
        sa.Column("threshold", sa.Float()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("first_reviewer_id", sa.Uuid()),
        sa.Column("first_decision", sa.String(20)),
        sa.Column("second_reviewer_id", sa.Uuid()),
        sa.Column("second_decision", sa.String(20)),
        sa.Column("outcome", sa.String(20)),
        sa.Column("closed_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_review_items"),
        sa.UniqueConstraint("prompt_id", name="uq_review_items_prompt_id"),
        sa.CheckConstraint(ADVERSE_NEEDS_TWO_REVIEWERS, name="ck_review_items_adverse_needs_two_reviewers"),
        fk("review_items", "subject_id", "subjects.id", "CASCADE"),
        fk("review_items", "prompt_id", "checkin_prompts.id", "CASCADE"),
        fk("review_items", "attempt_id", "checkin_attempts.id"),
    )
    for col in ("subject_id", "status", "created_at"):
        op.create_index(f"ix_review_items_{col}", "review_items", [col])
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_decisions"),
        sa.UniqueConstraint("item_id", "reviewer_id", name="uq_review_decisions_item_id_reviewer_id"),
        fk("review_decisions", "item_id", "review_items.id", "CASCADE"),
    )
    op.create_index("ix_review_decisions_item_id", "review_decisions", ["item_id"])


def downgrade() -> None:
    for table in ("review_decisions", "review_items", "checkin_attempts", "checkin_prompts", "checkin_days",
                  "face_photos", "face_enrolments"):
        op.drop_table(table)
