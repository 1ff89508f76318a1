"""run prices: each run keeps the price its site asked when the run was placed

A site's prices can change (`PATCH /v1/sites/{site}`); a run is charged at the price in
force when it was placed, not at whatever the site asks when it ends. Runs that exist
already get NULL and are charged at their site's price when they end, as before.

Revision ID: 0009_run_prices
Revises: 0008_node_drain_kept
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_run_prices"
down_revision = "0008_node_drain_kept"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("price_per_hour", sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), as 0007 and 0008 do.
    op.drop_column("runs", "price_per_hour")
