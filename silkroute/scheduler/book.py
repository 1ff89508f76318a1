"""The scheduler's bookkeeping: cluster capacity, queue, running jobs and tenants.

Drivers tell it what happened (`submit`, `finish`); `Scheduler.step` reads it and records its
own decisions in it (the way kube-scheduler "assumes" a binding), then returns them for the
driver to carry out. Nothing here reads a clock: every time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sortedcontainers import SortedKeyList

from silkroute.model.workload import Job, JobState
from silkroute.scheduler.policies.base import QueueOrder
from silkroute.scheduler.queue import PendingQueue
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState
from silkroute.scheduler.tenants import TenantBook


@dataclass(frozen=True, slots=True)
class Reservation:
    """EASY backfill: the blocked head job will start by `start_time` on `nodes`."""

    job_id: int
    start_time: float
    nodes: frozenset[int]
    node_mask: npt.NDArray[np.bool_] = field(compare=False, repr=False)

    def ends_in_time(self, job: Job, now: float) -> bool:
        """A job that will be gone by the reserved start may use the reserved nodes."""
        return job.time_limit_s is not None and now + job.time_limit_s <= self.start_time

    def allows(self, alloc: Allocation, job: Job, now: float) -> bool:
        if self.ends_in_time(job, now):
            return True
        return self.nodes.isdisjoint(node for node, _ in alloc.workers)


class SchedulerBook:
    def __init__(
        self,
        cluster: ClusterState,
        order: QueueOrder,
        sites: SiteCatalog | None = None,
        tenants: TenantBook | None = None,
    ) -> None:
        self.cluster = cluster
        self.sites = sites or SiteCatalog([])
        self.tenants = tenants or TenantBook()
        self.pending = PendingQueue(order)
        self.running: dict[int, Job] = {}
        self.allocations: dict[int, Allocation] = {}
        self.running_by_pool: dict[int, set[int]] = {p.index: set() for p in cluster.pools}
        # Running preemptible jobs per pool, cheapest victim first (lowest priority, then the
        # one that started last and so loses least).
        self.preemptible: dict[int, SortedKeyList] = {
            p.index: SortedKeyList(key=_victim_order) for p in cluster.pools
        }
        # Bumped when a preemptible job starts in a pool: jobs that may preempt look again.
        self.victim_epoch = [0] * len(cluster.pools)
        # Running jobs per pool by when their time limit frees them (EASY reservations).
        self.by_expected_end: dict[int, SortedKeyList] = {
            p.index: SortedKeyList(key=_end_order) for p in cluster.pools
        }
        self.reservation: Reservation | None = None
        self.last_round: float | None = None
        # Feasibility on the empty cluster, by job shape (see Scheduler.unsatisfiable).
        self.feasibility: dict[tuple[object, ...], str | None] = {}

    # ----- what drivers report ------------------------------------------------------
    def submit(self, job: Job) -> None:
        job.state = JobState.PENDING
        self.pending.add(job)

    def finish(self, job: Job, now: float, succeeded: bool = True) -> None:
        """The job ended on its own (completed or failed)."""
        self._stop_running(job, now)
        self.cluster.release(self.allocations.pop(job.id))
        job.remaining = 0.0 if succeeded else job.remaining
        job.state = JobState.SUCCEEDED if succeeded else JobState.FAILED
        job.end_time = now

    def cancel_pending(self, job: Job) -> None:
        self.pending.remove(job)
        job.state = JobState.FAILED

    # ----- what the scheduler records -------------------------------------------------
    def start(self, job: Job, alloc: Allocation, now: float) -> None:
        self.cluster.apply(alloc)
        pool = alloc.pool
        accel = self.cluster.pools[pool].accelerator
        self.running[job.id] = job
        self.allocations[job.id] = alloc
        self.running_by_pool[pool].add(job.id)
        job.state = JobState.RUNNING
        job.start_time = now
        job.running_type = accel
        if job.first_start_time is None:
            job.first_start_time = now
        if job.preemptible:
            self.preemptible[pool].add(job)  # keyed by start time: add after setting it
        self.by_expected_end[pool].add(job)
        job.hold_reason = None
        job.blocked_key = None  # what it waited for before no longer says anything
        self.tenants.charge_start(job.tenant, accel, job.gpus, job.demand.cpu_milli * job.workers)
        if job.preemptible:
            self.victim_epoch[pool] += 1

    def preempt(self, job: Job, now: float, checkpoint_now: bool, released: bool = False) -> None:
        """Stop a running job and account the work it keeps; the caller requeues it."""
        alloc = self.allocations.pop(job.id)
        if not released:
            self.cluster.release(alloc)
        self._stop_running(job, now, alloc)
        job.stop(now, checkpoint_now)

    def _stop_running(self, job: Job, now: float, alloc: Allocation | None = None) -> None:
        alloc = alloc or self.allocations[job.id]
        del self.running[job.id]
        self.running_by_pool[alloc.pool].discard(job.id)
        if job.preemptible:
            self.preemptible[alloc.pool].remove(job)
        self.by_expected_end[alloc.pool].remove(job)
        elapsed = 0.0 if job.start_time is None else now - job.start_time
        self.tenants.charge_stop(
            job.tenant,
            job.running_type,
            job.gpus,
            job.demand.cpu_milli * job.workers,
            elapsed * job.gpus,
        )


def _victim_order(job: Job) -> tuple[int, float, int]:
    return (job.priority, -(job.start_time or 0.0), job.id)


def _end_order(job: Job) -> tuple[float, int]:
    return (job.expected_end(), job.id)
