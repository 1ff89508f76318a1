"""agents: site agents (heartbeats, up/down), site-scoped agent tokens, engine reports on runs

Revision ID: 0003_agents
Revises: 0002_governance
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_agents"
down_revision = "0002_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("inventory", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=True),
        sa.Column("last_heartbeat", sa.Float(), nullable=True),
        sa.Column("state_since", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.name"]),
        sa.PrimaryKeyConstraint("site"),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site", sa.String(length=64), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("engine_state", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("engine_exit_code", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("engine_message", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("engine_started_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("engine_ended_at", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("launch_failed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("report_new", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index("ix_runs_site_state", ["site", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_site_state")
        for column in (
            "report_new",
            "launch_failed",
            "engine_ended_at",
            "engine_started_at",
            "engine_message",
            "engine_exit_code",
            "engine_state",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("site")
    op.drop_table("agents")
