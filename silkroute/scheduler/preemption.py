"""Preemption: pick the node first, then evict only the cheapest victims there.

Like kube-scheduler's: find where the job could run if candidate victims were gone (the
cheapest prefix that makes room), evict only victims on those nodes, give back the rest.
"""

from __future__ import annotations

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.decisions import Decision, Preempt, Start
from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PlacementPolicy
from silkroute.scheduler.policies.base import Context, PreemptionPolicy
from silkroute.scheduler.state import Allocation, add_back, add_back_all, worker_capacity


def preempt_for(
    placement: PlacementPolicy,
    policy: PreemptionPolicy,
    book: SchedulerBook,
    job: Job,
    pools: list[int],
    ctx: Context,
    decisions: list[Decision],
) -> list[Job] | None:
    """Start `job` by evicting cheaper work in one of `pools`; the evicted jobs, or None.
    Under graceful stops the job does not start now: it waits until its victims are gone."""
    cluster = book.cluster
    for pool in placement.rank_pools(job, cluster, book.sites, pools):
        victims = []
        for running in book.preemptible[pool]:  # lowest priority, latest start first
            if policy.only_lower_priority and running.priority >= job.priority:
                break
            if policy.may_preempt(job, running, ctx):
                victims.append(running)
        if not victims:
            continue
        victims.sort(key=lambda r: policy.victim_key(r, ctx))
        # Where could it run if every candidate victim were gone? Only victims on those
        # nodes are worth evicting (as kube-scheduler picks a node, then its victims).
        target = nodes_if_evicted(placement, book, job, pool, victims)
        if target is None:
            continue
        released: list[Job] = []
        alloc: Allocation | None = None
        for victim in victims:
            if target.isdisjoint(book.allocations[victim.id].nodes()):
                continue
            cluster.release(book.allocations[victim.id])
            released.append(victim)
            if not cluster.pool_may_fit(pool, job.demand, job.workers):
                continue  # cheap bound first: the full placement only when it may fit
            alloc = placement.place(job, cluster, book.sites, [pool])
            if alloc is not None:
                break
        if alloc is None:
            for victim in released:
                cluster.apply(book.allocations[victim.id])
            continue
        # Give back the victims whose nodes the new job does not use.
        used = set(alloc.nodes())
        evicted: list[Job] = []
        for victim in reversed(released):
            if used.isdisjoint(book.allocations[victim.id].nodes()):
                cluster.apply(book.allocations[victim.id])
            else:
                evicted.append(victim)
        if book.graceful_stop and evicted:
            # Victims keep their resources until they report stopped; the job waits for them.
            for victim in evicted:
                cluster.apply(book.allocations[victim.id])
            for victim in evicted:
                book.preempt(victim, ctx.now, checkpoint_now=False)
                decisions.append(Preempt(victim.id, f"preempted by job {job.id}", by_job=job.id))
            book.awaiting_victims[job.id] = {v.id for v in evicted}
            return evicted
        for victim in evicted:
            book.preempt(victim, ctx.now, checkpoint_now=False, released=True)
            decisions.append(Preempt(victim.id, f"preempted by job {job.id}", by_job=job.id))
        book.start(job, alloc, ctx.now)
        placement.placed(cluster, alloc)
        decisions.append(Start(job.id, alloc))
        return evicted
    return None


def nodes_if_evicted(
    placement: PlacementPolicy, book: SchedulerBook, job: Job, pool: int, victims: list[Job]
) -> frozenset[int] | None:
    """Nodes the job could use once the cheapest prefix of `victims` that makes room is
    gone; None if even all of them do not. Counts room per node incrementally."""
    cluster = book.cluster
    nodes = cluster.pools[pool].nodes
    # Most searches fail even with every candidate gone: test that first, in one pass.
    everyone = [book.allocations[v.id] for v in victims]
    gpu, cpu, mem = add_back_all(everyone, *(a.copy() for a in cluster.free_arrays()))
    room_all = worker_capacity(gpu[nodes], cpu[nodes], mem[nodes], job.demand)
    if int(room_all.sum()) < job.workers:
        return None
    gpu, cpu, mem = (a.copy() for a in cluster.free_arrays())
    room = worker_capacity(gpu[nodes], cpu[nodes], mem[nodes], job.demand)
    total = int(room.sum())
    for victim in victims:
        freed = book.allocations[victim.id]
        add_back(freed, gpu, cpu, mem)
        for node in freed.nodes():
            i = int(cluster.position_in_pool[node])
            now_room = int(
                worker_capacity(
                    gpu[node : node + 1], cpu[node : node + 1], mem[node : node + 1], job.demand
                )[0]
            )
            total += now_room - int(room[i])
            room[i] = now_room
        if total < job.workers:
            continue
        with cluster.what_if(gpu, cpu, mem), placement.what_if():
            placed = placement.place_exact(job, cluster, book.sites, [pool])
        if placed is not None:
            return frozenset(placed.nodes())
    return None
