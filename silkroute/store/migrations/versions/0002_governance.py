"""governance: dataset registry, tenants' transfer mechanisms, CIIO flag, audit log

Revision ID: 0002_governance
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_governance"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ciio", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("data_class", sa.String(length=32), nullable=False),
        sa.Column("subjects", sa.BigInteger(), nullable=False),
        sa.Column("sites", sa.JSON(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("licence", sa.String(length=256), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["owner"], ["tenants.name"]),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index("ix_datasets_owner", ["owner", "name"], unique=False)
    op.create_table(
        "compliance_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("mechanism", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=True),
        sa.Column("destinations", sa.JSON(), nullable=True),
        sa.Column("counterparty", sa.String(length=256), nullable=False),
        sa.Column("reference", sa.String(length=256), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=True),
        sa.Column("valid_until", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["tenant"], ["tenants.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("compliance_grants", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_grants_tenant", ["tenant", "id"], unique=False)
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("signature", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_records")
    with op.batch_alter_table("compliance_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_grants_tenant")
    op.drop_table("compliance_grants")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_datasets_owner")
    op.drop_table("datasets")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("ciio")
