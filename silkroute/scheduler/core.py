"""The scheduler: one `step()` that turns the book and `now` into decisions.

Pure: no clock, no I/O, no database; the same code runs under the simulator and the
control plane. Policies are looked up by name in `registry`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from silkroute.model.workload import Demand, Job
from silkroute.scheduler.book import Reservation, SchedulerBook
from silkroute.scheduler.decisions import Decision, Hold, Preempt, Start
from silkroute.scheduler.placement import PlacementPolicy
from silkroute.scheduler.policies.base import (
    Admission,
    Context,
    PoolFilter,
    PreemptionPolicy,
    QueueOrder,
)
from silkroute.scheduler.rounds import RoundPolicy
from silkroute.scheduler.state import Allocation, add_back, add_back_all, worker_capacity

BACKFILL_MODES = ("easy", "greedy", "none")


@dataclass
class Scheduler:
    order: QueueOrder
    placement: PlacementPolicy
    admission: Sequence[Admission] = field(default_factory=list)
    pool_filters: Sequence[PoolFilter] = field(default_factory=list)
    preemption: PreemptionPolicy | None = None
    backfill: str = "easy"
    # Jobs examined per step, as Slurm's default_queue_depth: bounds a step under a deep queue.
    max_candidates: int = 256
    rounds: RoundPolicy | None = None

    def __post_init__(self) -> None:
        if self.backfill not in BACKFILL_MODES:
            raise ValueError(f"backfill must be one of {', '.join(BACKFILL_MODES)}")

    # ------------------------------------------------------------------------------------
    def step(self, book: SchedulerBook, now: float) -> list[Decision]:
        ctx = Context(book.cluster, book.sites, book.tenants, now)
        decisions: list[Decision] = []
        started: set[int] = set()
        requeue: list[Job] = []
        head: Reservation | None = None
        examined = 0
        # Shapes that found no room this step, per pool: capacity only shrinks within a step
        # (until a preemption frees some), so a job at least as big cannot fit there either.
        no_room: dict[int, list[tuple[Demand, int]]] = {}
        # 0. Round boundary: a time-slicing policy re-plans who runs for the next round.
        if self.rounds is not None and self.rounds.due(book, now):
            requeue.extend(self._run_round(book, ctx, decisions, started))
        # 1. Walk the queue in the order policy's order (tenant ranks move as jobs start).
        for job in book.pending.in_order(ctx, lambda j: j.id in started):
            if job.id in started:
                continue  # started by the round plan above
            examined += 1
            if examined > self.max_candidates:
                break
            key = self._blocked_key(book, job, ctx, head)
            if self._known_blocked(book, job, key, head, now, decisions):
                if job.hold_reason != "insufficient-capacity":
                    continue
                if self.backfill == "none":
                    break
                if self.backfill == "easy" and head is None:
                    head = self._reservation(book, job, self._eligible_pools(job, ctx)[0], now)
                continue
            # 2. Admission: may this job run at all, and in which pools?
            pools, refusal = self._eligible_pools(job, ctx)
            if refusal is not None:
                _mark_blocked(book, job, key, head, now)
                self._hold(decisions, job, *refusal)
                continue
            # 3. Placement: filter, then score. Behind a blocked head, keep off the nodes
            #    reserved for it unless the job will be gone by then (EASY backfill).
            avoid = None
            if head is not None and not head.ends_in_time(job, now):
                avoid = head.node_mask
            open_pools = [p for p in pools if not _dominated(job, no_room.get(p))]
            alloc = self.placement.place(job, book.cluster, book.sites, open_pools, avoid)
            if alloc is None and head is not None and avoid is not None:
                _mark_blocked(book, job, key, head, now)
                self._hold(decisions, job, "reserved", f"room is reserved for job {head.job_id}")
                continue
            if alloc is not None:
                book.start(job, alloc, now)
                started.add(job.id)
                decisions.append(Start(job, alloc, backfilled=head is not None))
                continue
            _mark_blocked(book, job, key, head, now)
            for pool in open_pools:
                _remember_no_room(no_room.setdefault(pool, []), job)
            # 4. Preemption: evict cheaper work if the policy allows it.
            if head is None and self.preemption is not None:
                evicted = self._preempt_for(book, job, pools, ctx, decisions)
                if evicted:
                    no_room.clear()  # victims freed capacity
                if evicted is not None:
                    requeue.extend(evicted)
                    started.add(job.id)
                    continue
            # 5. Blocked. Strict order stops here; EASY reserves for the first blocked job.
            self._hold(decisions, job, "insufficient-capacity", self._no_room_message(job))
            if self.backfill == "none":
                break
            if self.backfill == "easy" and head is None:
                head = self._reservation(book, job, pools, now)
        book.reservation = head
        # 6. Settle the queue now that iteration is over.
        for decision in decisions:
            if isinstance(decision, Start):
                book.pending.remove(decision.job)
        for job in requeue:
            book.submit(job)
        return decisions

    def next_wakeup(self, book: SchedulerBook, now: float) -> float | None:
        """When the driver must call `step` again even if nothing happens (round ends)."""
        if self.rounds is None or (not book.pending and not book.running):
            return None
        return self.rounds.next_round(now)

    # ------------------------------------------------------------------------------------
    def _blocked_key(
        self, book: SchedulerBook, job: Job, ctx: Context, head: Reservation | None
    ) -> tuple[int, int, int, int]:
        pools = job.eligible_pools
        if pools is None:
            pools = job.eligible_pools = ctx.cluster.pools_for(
                job.accelerator_types, job.sites, job.demand.gpu_slots > 0
            )
        # New victims matter only to a job that will try to evict: not the lowest class, and
        # only while no job is blocked ahead of it (the first blocked job stops preemption).
        may_evict = self.preemption is not None and job.priority > 0 and head is None
        # Usage matters only to a tenant that quotas or vouchers limit.
        account = book.tenants.get(job.tenant)
        limited = bool(account.quota) or not account.pay_as_you_go
        return (
            book.cluster.epoch_sum(pools),
            sum(book.victim_epoch[p] for p in pools) if may_evict else 0,
            account.version if limited else 0,
            -1 if head is None else head.job_id,
        )

    def _known_blocked(
        self,
        book: SchedulerBook,
        job: Job,
        key: tuple[int, int, int, int],
        head: Reservation | None,
        now: float,
        decisions: list[Decision],
    ) -> bool:
        """True when the job provably still cannot start, so the step can skip its work:
        nothing it depends on changed since it last could not start, or only things that
        cannot help it (see `_still_no_room`). Keeps its hold reason what a full look gives."""
        if job.blocked_key == key:
            return True
        if not self._still_no_room(book, job, key, head, now):
            return False
        _mark_blocked(book, job, key, head, now)
        if job.hold_reason in ("reserved", "insufficient-capacity"):
            if job.blocked_avoid and head is not None:
                self._hold(decisions, job, "reserved", f"room is reserved for job {head.job_id}")
            else:
                self._hold(decisions, job, "insufficient-capacity", self._no_room_message(job))
        return True

    def _still_no_room(
        self,
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
        if self.preemption is not None and job.priority > 0 and head is None:
            return False  # it will try preemption, which may combine new room with victims
        cluster = book.cluster
        released = cluster.release_log[job.blocked_log_pos :]
        if len(released) > 512:
            return False  # cheaper to look again at everything
        assert job.eligible_pools is not None
        pools = job.eligible_pools
        pool_of = cluster.node_pool
        kept_off = head.nodes if head is not None and not head.ends_in_time(job, now) else None
        changed = set(released) | (job.blocked_avoid - kept_off if kept_off else job.blocked_avoid)
        nodes = [n for n in changed if pool_of[n] in pools and not (kept_off and n in kept_off)]
        return not (nodes and (cluster.worker_capacity(np.array(nodes), job.demand) > 0).any())

    def _run_round(
        self, book: SchedulerBook, ctx: Context, decisions: list[Decision], started: set[int]
    ) -> list[Job]:
        assert self.rounds is not None
        book.last_round = ctx.now
        plan = self.rounds.plan(book, ctx)
        wanted = {p.job.id: p.accelerator_types for p in plan}
        suspended: list[Job] = []
        for job in list(book.running.values()):
            types = wanted.get(job.id, ())
            if job.id in wanted and (types is None or job.running_type in types):
                continue
            book.preempt(job, ctx.now, checkpoint_now=True)
            decisions.append(Preempt(job, "round ended", checkpoint_now=True))
            suspended.append(job)
        # Suspended jobs go back to the queue only after this step, so they cannot restart now
        # in the walk; planned jobs start here, in plan order. A planned job suspended only to
        # change type (a move) restarts at once on its new type, from its progress.
        moved = {j.id: j for j in suspended if j.id in wanted}
        for planned in plan:
            job = planned.job
            if job.id in book.running or (job not in book.pending and job.id not in moved):
                continue
            pools, refusal = self._eligible_pools(job, ctx)
            if refusal is not None:
                continue
            if planned.accelerator_types is not None:
                pools = [
                    p
                    for p in pools
                    if book.cluster.pools[p].accelerator in planned.accelerator_types
                ]
            alloc = self.placement.place(job, book.cluster, book.sites, pools)
            if alloc is not None:
                book.start(job, alloc, ctx.now)
                started.add(job.id)
                decisions.append(Start(job, alloc))
                if moved.pop(job.id, None) is not None:
                    suspended.remove(job)
        return suspended

    def _eligible_pools(self, job: Job, ctx: Context) -> tuple[list[int], tuple[str, str] | None]:
        if job.eligible_pools is None:
            job.eligible_pools = ctx.cluster.pools_for(
                job.accelerator_types, job.sites, job.demand.gpu_slots > 0
            )
        if not job.eligible_pools:
            return [], ("no-matching-pool", "no site has the accelerator types the job accepts")
        for admission in self.admission:
            refusal = admission.check(job, ctx)
            if refusal is not None:
                return [], refusal
        filters = [f for f in self.pool_filters if f.applies(job, ctx)]
        if not filters:
            return job.eligible_pools, None
        pools: list[int] = []
        first_refusal: tuple[str, str] | None = None
        for pool in job.eligible_pools:
            refusal = next((r for f in filters if (r := f.check(job, pool, ctx)) is not None), None)
            if refusal is None:
                pools.append(pool)
            elif first_refusal is None:
                first_refusal = refusal
        return pools, (first_refusal if not pools else None)

    def unsatisfiable(self, book: SchedulerBook, job: Job) -> str | None:
        """Why the job could never run on this cluster even if it were empty, or None."""
        shape = (job.demand, job.workers, job.accelerator_types, job.sites, job.tenant)
        if shape not in book.feasibility:
            book.feasibility[shape] = self._unsatisfiable(book, job)
        return book.feasibility[shape]

    @staticmethod
    def _unsatisfiable(book: SchedulerBook, job: Job) -> str | None:
        cluster = book.cluster
        pools = cluster.pools_for(job.accelerator_types, job.sites, job.demand.gpu_slots > 0)
        if not pools:
            return "no site has the accelerator types the job accepts"
        quota = book.tenants.get(job.tenant).quota
        overall = quota.get("*", math.inf)
        fits_somewhere = False
        for pool in pools:
            nodes = cluster.pools[pool].nodes
            room = worker_capacity(
                cluster.gpu_cap[nodes], cluster.cpu_cap[nodes], cluster.mem_cap[nodes], job.demand
            )
            if int(room.sum()) < job.workers:
                continue
            fits_somewhere = True
            allowed = min(quota.get(cluster.pools[pool].accelerator or "", math.inf), overall)
            if job.gpus <= allowed + 1e-9:
                return None
        if fits_somewhere:
            return f"job needs {job.gpus:g} accelerators, more than tenant {job.tenant}'s quota"
        return f"no pool can hold {job.workers} workers of this size even when empty"

    @staticmethod
    def _hold(decisions: list[Decision], job: Job, reason: str, message: str) -> None:
        if job.hold_reason != reason:
            job.hold_reason = reason
            decisions.append(Hold(job, reason, message))

    @staticmethod
    def _no_room_message(job: Job) -> str:
        need = f"{job.workers} x {job.demand.gpus:g} accelerators" if job.gpus else "CPU"
        return f"waiting for {need} to be free in one pool"

    def _preempt_for(
        self,
        book: SchedulerBook,
        job: Job,
        pools: list[int],
        ctx: Context,
        decisions: list[Decision],
    ) -> list[Job] | None:
        assert self.preemption is not None
        cluster = book.cluster
        policy = self.preemption
        for pool in self.placement.rank_pools(job, cluster, book.sites, pools):
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
            target = self._nodes_if_evicted(book, job, pool, victims)
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
                alloc = self.placement.place(job, cluster, book.sites, [pool])
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
            for victim in evicted:
                book.preempt(victim, ctx.now, checkpoint_now=False, released=True)
                decisions.append(Preempt(victim, f"preempted by job {job.id}", by_job=job.id))
            book.start(job, alloc, ctx.now)
            decisions.append(Start(job, alloc))
            return evicted
        return None

    def _nodes_if_evicted(
        self, book: SchedulerBook, job: Job, pool: int, victims: list[Job]
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
            with cluster.what_if(gpu, cpu, mem):
                placed = self.placement.place_exact(job, cluster, book.sites, [pool])
            if placed is not None:
                return frozenset(placed.nodes())
        return None

    def _reservation(
        self, book: SchedulerBook, job: Job, pools: list[int], now: float
    ) -> Reservation:
        """When and where the blocked job will run if running jobs end by their limits."""
        cluster = book.cluster
        previous = book.reservation
        if previous is not None and previous.job_id == job.id:
            return previous  # still valid: every job started since respected it
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
                with cluster.what_if(gpu, cpu, mem):
                    alloc = self.placement.place_exact(job, cluster, book.sites, pools)
                if alloc is not None:
                    return _reservation_of(job, end, alloc, cluster.gpu_free.shape[0])
        # No finite start: keep the nodes it would take on an empty cluster off limits.
        with cluster.what_if(
            cluster.gpu_cap.copy(), cluster.cpu_cap.copy(), cluster.mem_cap.copy()
        ):
            alloc = self.placement.place_exact(job, cluster, book.sites, pools)
        return _reservation_of(job, math.inf, alloc, cluster.gpu_free.shape[0])


def _dominated(job: Job, failed: list[tuple[Demand, int]] | None) -> bool:
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


def _remember_no_room(failed: list[tuple[Demand, int]], job: Job) -> None:
    if len(failed) < 8 and not _dominated(job, failed):
        failed.append((job.demand, job.workers))


def _reservation_of(job: Job, start: float, alloc: Allocation | None, nodes: int) -> Reservation:
    mask = np.zeros(nodes, dtype=bool)
    held = alloc.nodes() if alloc is not None else []
    mask[held] = True
    return Reservation(job.id, start, frozenset(held), mask)


def _end_key(job: Job) -> tuple[float, int]:
    return (job.expected_end(), job.id)


def _mark_blocked(
    book: SchedulerBook,
    job: Job,
    key: tuple[int, int, int, int],
    head: Reservation | None,
    now: float,
) -> None:
    """Remember what the world looked like when the job could not start."""
    job.blocked_key = key
    job.blocked_log_pos = len(book.cluster.release_log)
    reserved = head is not None and not head.ends_in_time(job, now)
    job.blocked_avoid = head.nodes if reserved and head is not None else frozenset()
