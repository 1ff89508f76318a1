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
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_priority", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("max_pending_jobs", sa.Integer(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_tenant_state", ["tenant", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_state")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("max_pending_jobs")
        batch_op.drop_column("max_priority")
