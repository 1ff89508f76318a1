"""dataset job reads: which datasets each job reads, one row per job and dataset

A retire is refused while a job that reads the dataset has not ended. Answering that from the
jobs' specs meant reading every live job of the owner; `job_datasets` (written with each job)
answers it by index: `ix_job_datasets_dataset` from the dataset's side, the primary key
(job, dataset) from the jobs' side. Jobs that exist already get their rows from their specs.

Revision ID: 0011_dataset_job_reads
Revises: 0010_dataset_retired
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_dataset_job_reads"
down_revision = "0010_dataset_retired"
branch_labels = None
depends_on = None

# Each job's `datasets`, each name once; a spec without a list of them reads none.
BACKFILL = {
    "postgresql": (
        "INSERT INTO job_datasets (job_id, dataset)"
        " SELECT DISTINCT jobs.id, read.name FROM jobs,"
        " json_array_elements_text(CASE WHEN json_typeof(jobs.spec -> 'datasets') = 'array'"
        " THEN jobs.spec -> 'datasets' ELSE '[]'::json END) AS read(name)"
    ),
    "sqlite": (
        "INSERT INTO job_datasets (job_id, dataset)"
        " SELECT DISTINCT jobs.id, read.value FROM jobs, json_each(jobs.spec, '$.datasets') AS read"
        " WHERE json_type(jobs.spec, '$.datasets') = 'array'"
    ),
}


def upgrade() -> None:
    op.create_table(
        "job_datasets",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "dataset"),
    )
    op.create_index("ix_job_datasets_dataset", "job_datasets", ["dataset", "job_id"])
    op.execute(BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_index("ix_job_datasets_dataset", table_name="job_datasets")
    op.drop_table("job_datasets")
