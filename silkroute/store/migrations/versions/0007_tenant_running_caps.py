"""tenant running caps: the most jobs a tenant may have started at once

Tenants that exist already get no cap (NULL), as do tenants created without one: the live
loop starts their jobs as before until an admin sets `max_running_jobs`
(`silkroute tenant update`).

Revision ID: 0007_tenant_running_caps
Revises: 0006_tenant_limits
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_tenant_running_caps"
down_revision = "0006_tenant_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("max_running_jobs", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), not a batch copy: copying
    # `tenants` means dropping it, which the jobs' foreign keys refuse once jobs exist.
    op.drop_column("tenants", "max_running_jobs")
