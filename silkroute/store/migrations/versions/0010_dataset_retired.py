"""dataset retired: a registered dataset can be retired (soft: the row stays)

The audit log, past jobs' explanations and the yearly cross-border counts name a dataset, so
retiring one keeps its row and marks it: `retired_at` (epoch seconds) and `retired_by` (the
actor, as audit records name it). Datasets that exist already are not retired (NULL).

Revision ID: 0010_dataset_retired
Revises: 0009_run_prices
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_dataset_retired"
down_revision = "0009_run_prices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("retired_at", sa.Float(), nullable=True))
    op.add_column("datasets", sa.Column("retired_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), as 0007 to 0009 do.
    op.drop_column("datasets", "retired_by")
    op.drop_column("datasets", "retired_at")
