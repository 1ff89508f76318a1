"""EASY backfill: a reservation for the first blocked job, from running jobs' time limits."""

from __future__ import annotations

import heapq
import math

from silkroute.scheduler.book import Reservation, SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PlacementPolicy
from silkroute.scheduler.state import Allocation, ClusterState, add_back, worker_capacity


def reservation_for(
    placement: PlacementPolicy, book: SchedulerBook, job: Job, pools: list[int], now: float
) -> Reservation:
    """When and where the blocked job will run if running jobs end by their limits."""
    cluster = book.cluster
    previous = book.reservation
    # Kept while the head waits: every job started since respected it. A finite start stays
    # a bound (jobs ending early only let the head start sooner; a fresh look on every
    # release cost the openb replay 2.7x). A head with no finite start (behind a job without
    # a limit) is looked at again once its pools got capacity back: until then every job
    # "ends before" it, and it would stay unprotected for good.
    if (
        previous is not None
        and previous.job_id == job.id
        and (math.isfinite(previous.start_time) or not previous.released_since(cluster))
    ):
        return previous
    running = heapq.merge(*(book.by_expected_end[p] for p in pools), key=_end_key)
    gpu, cpu, mem = cluster.gpu_free.copy(), cluster.cpu_free.copy(), cluster.mem_free.copy()
    demand = job.demand
    gpus_needed = demand.gpu_slots * demand.gpu_milli * job.workers
    free_milli = {p: cluster.pool_milli_free[p] for p in pools}
    for other in running:
        end = other.expected_end()
        if not math.isfinite(end):
            break
        freed = book.allocations[other.id]
        add_back(freed, gpu, cpu, mem)
        pool = freed.pool
        free_milli[pool] += freed.demand.gpu_slots * freed.demand.gpu_milli * len(freed.workers)
        if free_milli[pool] < gpus_needed:
            continue  # not even the total is there yet
        n = cluster.pools[pool].nodes
        if int(worker_capacity(gpu[n], cpu[n], mem[n], demand).sum()) >= job.workers:
            with cluster.what_if(gpu, cpu, mem), placement.what_if():
                alloc = placement.place_exact(job, cluster, book.sites, pools)
            if alloc is not None:
                return _reservation_of(job, end, alloc, cluster, pools)
    # No finite start: keep the nodes it would take on an empty cluster off limits.
    empty = (cluster.gpu_cap.copy(), cluster.cpu_cap.copy(), cluster.mem_cap.copy())
    with cluster.what_if(*empty), placement.what_if():
        alloc = placement.place_exact(job, cluster, book.sites, pools)
    return _reservation_of(job, math.inf, alloc, cluster, pools)


def _reservation_of(
    job: Job, start: float, alloc: Allocation | None, cluster: ClusterState, pools: list[int]
) -> Reservation:
    held = alloc.nodes() if alloc is not None else []
    return Reservation.on(job.id, start, held, cluster, pools, cluster.log_position())


def _end_key(job: Job) -> tuple[float, int]:
    return (job.expected_end(), job.id)
