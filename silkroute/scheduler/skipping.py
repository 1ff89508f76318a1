"""Skipping work in the hot loop without changing a decision.

A job that could not start is remembered with what the world looked like then (`mark_blocked`);
the next step skips it while nothing it depends on has moved (`blocked_key`), or when only
things that cannot help it moved (`still_no_room`). Within one step, a shape that found no room
in a pool makes bigger shapes skip that pool (`dominated`). A differential property test
(tests/scheduler/test_shortcuts_exact.py) checks that none of this changes a decision.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.book import Reservation, SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PreemptionPolicy


def blocked_key(
    preemption: PreemptionPolicy | None,
    book: SchedulerBook,
    job: Job,
    ctx: Context,
    head: Reservation | None,
) -> tuple[int, int, int, int]:
    """What the job's chance to start depends on, as counters that only grow."""
    pools = job.eligible_pools
    if pools is None:
        pools = job.eligible_pools = ctx.cluster.pools_for(
            job.accelerator_types, job.sites, job.demand.gpu_slots > 0
        )
    # New victims matter only to a job that will try to evict: not the lowest class, and
    # only while no job is blocked ahead of it (the first blocked job stops preemption).
    may_evict = preemption is not None and job.priority > 0 and head is None
    # Usage matters only to a tenant that quotas, vouchers, caps or a budget limit.
    account = book.tenants.get(job.tenant)
    return (
        book.cluster.epoch_sum(pools),
        sum(book.victim_epoch[p] for p in pools) if may_evict else 0,
        account.version if account.limited else 0,
        -1 if head is None else head.job_id,
    )


def kept_off(head: Reservation | None, job: Job, now: float) -> frozenset[int]:
    """The nodes EASY keeps the job off: the head's, unless the job ends before it starts.
    Changes with time alone (a job's limit stops fitting before the reserved start) and with
    the head's reservation, neither of which `blocked_key` counts."""
    if head is None or head.ends_in_time(job, now):
        return frozenset()
    return head.nodes


def still_no_room(
    preemption: PreemptionPolicy | None,
    book: SchedulerBook,
    job: Job,
    key: tuple[int, int, int, int],
    head: Reservation | None,
    now: float,
) -> bool:
    """A one-worker job that found no room can only fit now on a node that got capacity
    back since, or on one it was kept off (reserved for another head) and may use now; if
    none of those can take it (and its victims and tenant did not change), it still cannot
    start. Gangs may combine old and new room, and a job that may evict could combine new
    room with victims: neither is short-cut."""
    old = job.blocked_key
    if old is None or job.workers != 1 or old[1:3] != key[1:3]:
        return False
    if preemption is not None and job.priority > 0 and head is None:
        return False  # it will try preemption, which may combine new room with victims
    cluster = book.cluster
    released = cluster.released_since(job.blocked_log_pos)
    if released is None or len(released) > 512:
        return False  # cheaper to look again at everything
    assert job.eligible_pools is not None
    pools = job.eligible_pools
    pool_of = cluster.node_pool
    avoid = kept_off(head, job, now)
    changed = set(released) | (job.blocked_avoid - avoid)
    nodes = [n for n in changed if pool_of[n] in pools and n not in avoid]
    return not (nodes and (cluster.worker_capacity(np.array(nodes), job.demand) > 0).any())


def mark_blocked(
    book: SchedulerBook,
    job: Job,
    key: tuple[int, int, int, int],
    head: Reservation | None,
    now: float,
) -> None:
    """Remember what the world looked like when the job could not start."""
    job.blocked_key = key
    job.blocked_log_pos = book.cluster.log_position()
    job.blocked_avoid = kept_off(head, job, now)


def dominated(job: Job, failed: list[tuple[Demand, int]] | None) -> bool:
    """True if a shape no bigger than the job's already found no room."""
    if not failed:
        return False
    d, w = job.demand, job.workers
    return any(
        w >= fw
        and d.gpu_slots >= f.gpu_slots
        and d.gpu_milli >= f.gpu_milli
        and d.cpu_milli >= f.cpu_milli
        and d.mem_mib >= f.mem_mib
        for f, fw in failed
    )


def remember_no_room(failed: list[tuple[Demand, int]], job: Job) -> None:
    if len(failed) < 8 and not dominated(job, failed):
        failed.append((job.demand, job.workers))
