"""Sign-in throttling per username, source network and both (replaces sign_in_failures); the
installation marker (production or demo).

Revision ID: 0400_edge
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import custodes.db.base

revision = "0400_edge"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

When = custodes.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", When, nullable=True),
        sa.Column("wait_until", When, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttles")),
    )
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.drop_table("sign_in_failures")  # per-username counts only; the new keys start empty


def downgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", When, nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_sign_in_failures")),
    )
    op.drop_table("installation")
    op.drop_table("sign_in_throttles")
