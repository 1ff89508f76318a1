"""The small interfaces every scheduling policy implements. One policy, one file."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass

from silkroute.scheduler.decisions import Severity
from silkroute.scheduler.job import Job
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import TenantAccount, TenantBook


@dataclass(frozen=True, slots=True)
class Context:
    """Read-only view handed to policies during a step."""

    cluster: ClusterState
    sites: SiteCatalog
    tenants: TenantBook
    now: float


class QueueOrder(ABC):
    """Which pending job goes first.

    `job_key` must not change while a job waits (the queue is kept sorted by it). Orders that
    share between tenants also rank tenants, by usage that changes as jobs start.
    """

    name: str = "order"
    tenant_aware: bool = False

    @abstractmethod
    def job_key(self, job: Job) -> tuple[Hashable, ...]: ...

    def tenant_rank(self, account: TenantAccount, ctx: Context) -> float:
        return 0.0


class Admission(ABC):
    """May this job run at all now (whatever the placement)? None = yes, else a reason code."""

    name: str = "admission"

    @abstractmethod
    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None: ...


class PoolFilter(ABC):
    """May this job run in this pool (site x accelerator type)? None = yes, else a reason."""

    name: str = "pool-filter"
    # WAIT: the refusal may clear by itself (usage drops); DENY: someone must act.
    severity: Severity = Severity.WAIT

    def applies(self, job: Job, ctx: Context) -> bool:
        """Cheap test: False when `check` would pass every pool for this job."""
        return True

    @abstractmethod
    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None: ...


class PreemptionPolicy(ABC):
    """Which running jobs a pending job may evict, cheapest first."""

    name: str = "preemption"
    # True when victims always have a lower priority than the pending job: the scheduler
    # then stops scanning candidates, kept sorted by priority, at the first that is not.
    only_lower_priority: bool = True

    @abstractmethod
    def may_preempt(self, pending: Job, running: Job, ctx: Context) -> bool: ...

    def victim_key(self, running: Job, ctx: Context) -> tuple[float, ...]:
        # Lowest priority first, then the one that started last (least work lost).
        return (running.priority, -(running.start_time or 0.0), running.id)
