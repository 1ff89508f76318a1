"""node drain kept: a drained node that is removed remembers its drain for its restore

A node an operator drained and then removed comes back drained when restored (the drain had
a reason); `drained_at` and `drained_by` keep who drained it and when while it is removed.
Rows that exist already get neither (NULL): nodes removed before this revision come back
active, as they did.

Revision ID: 0008_node_drain_kept
Revises: 0007_tenant_running_caps
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_node_drain_kept"
down_revision = "0007_tenant_running_caps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("node_states", sa.Column("drained_at", sa.Float(), nullable=True))
    op.add_column("node_states", sa.Column("drained_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), as 0006 and 0007 do.
    op.drop_column("node_states", "drained_by")
    op.drop_column("node_states", "drained_at")
