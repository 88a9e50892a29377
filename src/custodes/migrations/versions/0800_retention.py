"""Retention: legal holds, deletion receipts, and the audit log's signed pruning checkpoints.

Revision ID: 0800_retention
Revises: 0800_trail_grants
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800_retention"
down_revision = "0800_trail_grants"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("data_class", sa.String(32)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.Uuid()),
        sa.Column("placed_at", When, nullable=False),
        sa.Column("lifted_by", sa.Uuid()),
        sa.Column("lifted_at", When),
        sa.Column("lift_reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_subject_id", "legal_holds", ["subject_id"])
    op.create_table(
        "deletion_receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("data_class", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.Uuid()),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(64), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("started_at", When, nullable=False),
        sa.Column("completed_at", When),
        sa.PrimaryKeyConstraint("id", name="pk_deletion_receipts"),
    )
    op.create_index("ix_deletion_receipts_run_id", "deletion_receipts", ["run_id"])
    op.create_index("ix_deletion_receipts_subject_id", "deletion_receipts", ["subject_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", BigId, autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("pruned_before", When, nullable=False),
        sa.Column("made_at", When, nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_checkpoints"),
    )


    _prunable_audit()


# The audit log stays append-only, except that entries at or below the latest retention checkpoint
# may be deleted (the checkpoint is written first, in the same transaction, and is signed: a forged
# one lets rows go but fails `custodes audit verify`).
PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.seq <= (SELECT coalesce(max(seq), 0) FROM audit_checkpoints) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit log is append-only';
END $$;
"""
PG_ORIGINAL = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
"""


def _prunable_audit() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARD)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        op.execute("CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
                   "WHEN OLD.seq > (SELECT coalesce(max(seq), 0) FROM audit_checkpoints) "
                   "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_ORIGINAL)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
        op.execute("CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
                   "BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
    for table in ("audit_checkpoints", "deletion_receipts", "legal_holds"):
        op.drop_table(table)
