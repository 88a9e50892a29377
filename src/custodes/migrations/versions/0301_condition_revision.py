"""Conditions carry a revision, bumped by each edit in place, so rule caches see edits at once.

Revision ID: 0301_condition_revision
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301_condition_revision"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conditions") as t:
        t.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("conditions") as t:
        t.drop_column("revision")
