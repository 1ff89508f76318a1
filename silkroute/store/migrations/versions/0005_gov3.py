"""governance 3: yearly data transfers (threshold counts), audit checkpoint frontier

Revision ID: 0005_gov3
Revises: 0004_api
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_gov3"
down_revision = "0004_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_transfers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("origin", sa.String(length=2), nullable=False),
        sa.Column("data_class", sa.String(length=32), nullable=False),
        sa.Column("subjects", sa.BigInteger(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=2), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "dataset", "year", name="uq_data_transfers_once_a_year"),
    )
    with op.batch_alter_table("data_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_data_transfers_year", ["year", "tenant"], unique=False)
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frontier", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoints", schema=None) as batch_op:
        batch_op.drop_column("frontier")
    with op.batch_alter_table("data_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_data_transfers_year")
    op.drop_table("data_transfers")
