"""The control plane's tables. Times are epoch seconds (float) so SQLite and PostgreSQL agree.

A job row is the tenant's request plus its observable state; a run row is one attempt of a job
at a site (what a back end executes); job events are the state history; ledger rows are the
accelerator-hours and money each finished run cost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from silkroute.model.tenant import TenantSpec


class Base(DeclarativeBase):
    pass


class TenantRow(Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    quota: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    voucher_accelerator_hours: Mapped[float] = mapped_column(Float, default=0.0)
    pay_as_you_go: Mapped[bool] = mapped_column(Boolean, default=True)
    monthly_budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    # A critical-information-infrastructure operator (China's stricter export rules).
    ciio: Mapped[bool] = mapped_column(Boolean, default=False)
    # The highest priority its jobs may ask for: a class name or an integer, as text (see
    # control/limits.py); None: no ceiling (tenants made before migration 0006).
    max_priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The most jobs it may have pending at once (refused at submit beyond); None: no cap.
    max_pending_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The most jobs it may have started at once (the live loop holds the rest); None: no cap.
    max_running_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def spec(self) -> TenantSpec:
        """The tenant as the scheduler and the API see it (the one row-to-spec mapping).
        Not validated again: it was when stored, and a bound tightened since (a weight's
        ceiling) must not make a stored tenant unreadable to the loop."""
        return TenantSpec.model_construct(
            name=self.name,
            country=self.country,
            weight=self.weight,
            quota=dict(self.quota),
            voucher_accelerator_hours=self.voucher_accelerator_hours,
            pay_as_you_go=self.pay_as_you_go,
            max_running_jobs=self.max_running_jobs,
        )


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # SHA-256 of the token: a database dump does not give anyone a working token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str | None] = mapped_column(ForeignKey("tenants.name"), nullable=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[float] = mapped_column(Float)
    # Agent tokens serve one site: its agent reads and reports that site's runs only.
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set when revoked: the row stays (who had access, until when), the token stops working.
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SiteRow(Base):
    __tablename__ = "sites"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class NodeStateRow(Base):
    """An operator's drain or removal of one node (absent: the node takes work).

    drained: no new work starts there, what runs finishes; removed: gone from the federation,
    its running work was sent back to the queue. A removed node that was drained first keeps
    who drained it and when (`drained_at`, `drained_by`): its restore brings the drain back."""

    __tablename__ = "node_states"

    site: Mapped[str] = mapped_column(ForeignKey("sites.name"), primary_key=True)
    node: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[float] = mapped_column(Float)
    changed_by: Mapped[str] = mapped_column(String(128), default="")
    drained_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    drained_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_tenant_id", "tenant", "id"),
        Index("ix_jobs_tenant_state", "tenant", "state"),  # pending jobs per tenant, at submit
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    name: Mapped[str] = mapped_column(String(253))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accelerator_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    current_run: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hold_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hold_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The first decision taken for the job (submit-to-decision latency, benchmarks).
    first_decision_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class JobDatasetRow(Base):
    """A dataset a job reads (each name of its spec's `datasets` once), stored with the job:
    "which jobs not yet ended read dataset X" is then one indexed query (a retire's in-use
    check), not a read of every live job's spec."""

    __tablename__ = "job_datasets"
    __table_args__ = (Index("ix_job_datasets_dataset", "dataset", "job_id"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    dataset: Mapped[str] = mapped_column(Text, primary_key=True)


class JobEventRow(Base):
    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    site: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_state", "state"),
        Index("ix_runs_job", "job_id"),
        Index("ix_runs_site_state", "site", "state"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    attempt: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(64))
    accelerator_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    accelerators: Mapped[float] = mapped_column(Float)  # whole gang, in devices
    # The site's price for the type (USD per accelerator-hour) when the run was placed: the
    # run is charged at it, a later price change counts from the next run on. NULL: a run
    # from before migration 0008, charged at the site's price when it ends.
    price_per_hour: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [[node name, [device, ...]], ...] one entry per worker (rank order)
    placement: Mapped[list[Any]] = mapped_column(JSON)
    # launching: committed, not yet confirmed by the back end; running; stopping; ended
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # What the site's agent last reported from its engine (a `backends.base.RunState` value);
    # `report_new`: not yet taken in by the live loop, the only writer of job states.
    engine_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    engine_exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    engine_message: Mapped[str] = mapped_column(Text, default="")
    engine_started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    engine_ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    launch_failed: Mapped[bool] = mapped_column(Boolean, default=False)  # the engine refused it
    report_new: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentRow(Base):
    """A site served by a remote agent: its heartbeat and whether the site is up.

    A site without a row is served by the control plane's embedded agent."""

    __tablename__ = "agents"

    site: Mapped[str] = mapped_column(ForeignKey("sites.name"), primary_key=True)
    # waiting (token issued, never heard from), up, down (missed its heartbeats)
    state: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(32), default="")
    inventory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    registered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True)
    state_since: Mapped[float] = mapped_column(Float)


class LedgerRow(Base):
    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_tenant_month", "tenant", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    site: Mapped[str] = mapped_column(String(64))
    accelerator_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM (UTC) of the run's end
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float] = mapped_column(Float)
    accelerator_hours: Mapped[float] = mapped_column(Float)
    voucher_hours: Mapped[float] = mapped_column(Float)
    paid_hours: Mapped[float] = mapped_column(Float)
    price_per_hour: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)


class DatasetRow(Base):
    """A registered dataset (`policy.catalog.Dataset`); names are one namespace."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_owner", "owner", "name"),)

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    origin: Mapped[str] = mapped_column(String(2))
    data_class: Mapped[str] = mapped_column(String(32))
    subjects: Mapped[int] = mapped_column(BigInteger, default=0)
    sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    licence: Mapped[str] = mapped_column(String(256), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    # A retired dataset keeps its row (the audit log and yearly counts name it): no new job
    # reads it and its copies no longer count for placement.
    retired_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    retired_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


class GrantRow(Base):
    """A transfer mechanism a tenant holds (`policy.catalog.Grant`), with whom."""

    __tablename__ = "compliance_grants"
    __table_args__ = (Index("ix_compliance_grants_tenant", "tenant", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"))
    mechanism: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str | None] = mapped_column(String(2), nullable=True)
    destinations: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    counterparty: Mapped[str] = mapped_column(String(256), default="")
    reference: Mapped[str] = mapped_column(String(256), default="")
    valid_from: Mapped[str | None] = mapped_column(String(10), nullable=True)  # YYYY-MM-DD
    valid_until: Mapped[str | None] = mapped_column(String(10), nullable=True)  # last day
    created_at: Mapped[float] = mapped_column(Float)


class AuditRecordRow(Base):
    """One `audit.records.AuditRecord`; `detail` is its canonical JSON text."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    subject: Mapped[str] = mapped_column(String(256))
    detail: Mapped[str] = mapped_column(Text)
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class TransferRow(Base):
    """A dataset its owner sent abroad in a calendar year: the first start of a job that
    read it at a site outside its origin. One row per (tenant, dataset, year), so re-running
    a dataset is not a new export; the rows of a year give each tenant's yearly count of data
    subjects (thresholds such as China's 100,000 and 1,000,000 individuals)."""

    __tablename__ = "data_transfers"
    __table_args__ = (
        UniqueConstraint("tenant", "dataset", "year", name="uq_data_transfers_once_a_year"),
        Index("ix_data_transfers_year", "year", "tenant"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(128))
    origin: Mapped[str] = mapped_column(String(2))
    data_class: Mapped[str] = mapped_column(String(32))
    subjects: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    destination: Mapped[str] = mapped_column(String(2))  # country of that first transfer
    site: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[float] = mapped_column(Float)


class AuditCheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(128))
    signature: Mapped[str] = mapped_column(String(256))
    # The Merkle frontier at `tree_size` (hex digests of the full subtrees, largest first):
    # the next checkpoint hashes only the records after it. Derived data, never trusted by
    # `audit verify`; checked against the signed root before it is used.
    frontier: Mapped[str | None] = mapped_column(Text, nullable=True)
