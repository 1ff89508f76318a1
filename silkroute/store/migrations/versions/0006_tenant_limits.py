"""tenant limits: a priority ceiling and a cap on pending jobs per tenant

Tenants that exist already get neither (NULL: no ceiling, no cap), so a database upgraded
from 0005 behaves as before until an admin sets limits (`silkroute tenant update`); tenants
created from now on get the API's defaults ("normal", 10,000).

Revision ID: 0006_tenant_limits
Revises: 0005_gov3
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_tenant_limits"
down_revision = "0005_gov3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("max_priority", sa.String(length=16), nullable=True))
    op.add_column("tenants", sa.Column("max_pending_jobs", sa.Integer(), nullable=True))
    op.create_index("ix_jobs_tenant_state", "jobs", ["tenant", "state"], unique=False)


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), not a batch copy: copying
    # `tenants` means dropping it, which the jobs' foreign keys refuse once jobs exist.
    op.drop_index("ix_jobs_tenant_state", table_name="jobs")
    op.drop_column("tenants", "max_pending_jobs")
    op.drop_column("tenants", "max_priority")
