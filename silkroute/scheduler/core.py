"""The scheduler: one `step()` that turns the book and `now` into decisions.

Pure: no clock, no I/O, no database; the same code runs under the simulator and the
control plane. Policies are looked up by name in `registry`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from silkroute.model.workload import Demand
from silkroute.scheduler.backfill import reservation_for
from silkroute.scheduler.book import Reservation, SchedulerBook
from silkroute.scheduler.decisions import Decision, Hold, Preempt, Refusal, Start
from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PlacementPolicy
from silkroute.scheduler.policies.base import (
    BACKFILL_MODES,
    Admission,
    Context,
    PoolFilter,
    PreemptionPolicy,
    QueueOrder,
    RoundPolicy,
)
from silkroute.scheduler.preemption import preempt_for
from silkroute.scheduler.skipping import (
    blocked_key,
    dominated,
    kept_off,
    mark_blocked,
    remember_no_room,
    still_no_room,
)
from silkroute.scheduler.state import Allocation, worker_capacity

# Why a job may not run at all or in no pool: code, message, and each pool's refusal.
Refused = tuple[str, str, tuple[Refusal, ...]]


# Hold reasons of jobs that competed for room (and count towards `max_candidates`).
ROOM_REASONS = ("insufficient-capacity", "reserved")
# Holds whose message says how many of the tenant's counted jobs are old runs still stopping
# outside the book (TenantBook.hold_stopping): told again when that number changes.
STOPPING_COUNTED = ("max-running-jobs", "quota-exceeded")
# Holds whose message gives figures that move while the job waits (the voucher hours left
# beside its tenant's running jobs): told again when the message changes. They are looked at
# again only when the tenant's usage moves (its `version`), so at most once per such change.
FIGURES_TOLD = ("voucher-insufficient",)


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
        ctx = Context(book.cluster, book.sites, book.tenants, now, book.memory)
        self.placement.attach(book)
        decisions: list[Decision] = []
        started: set[int] = set()
        requeue: list[Job] = []
        head: Reservation | None = None
        examined = 0
        # Shapes that found no room this step, per pool: capacity only shrinks within a step
        # (until a preemption frees some), so a job at least as big cannot fit there either.
        no_room: dict[int, list[tuple[Demand, int]]] = {}
        versions = tuple(f.version for f in self.pool_filters)
        if versions != book.filter_versions:
            book.filter_versions = versions
            book.policies_changed()
        for policy in self.pool_filters:
            affected = policy.take_changed()
            if affected is not None:
                book.policies_changed(affected)
        parking = {f.name for f in self.pool_filters if f.parks}
        to_park: list[Job] = []
        # 0. Round boundary: a time-slicing policy re-plans who runs for the next round.
        if self.rounds is not None and self.rounds.due(book, now):
            requeue.extend(self._run_round(book, ctx, decisions, started))
        # 0b. Preemptors whose victims have all stopped take the room they freed first.
        if book.ready_preemptors:
            self._start_preemptors(book, ctx, decisions, started)
        # 1. Walk the queue in the order policy's order (tenant ranks move as jobs start).
        for job in book.pending.in_order(ctx, lambda j: j.id in started):
            if job.id in started:
                continue  # started by the round plan above
            if job.id in book.awaiting_victims:
                continue  # its victims are still stopping; it looks again once they are gone
            # The depth bound counts jobs that compete for room. A job that policy refuses
            # (data law, quota, vouchers) costs a cached check and does not count: otherwise
            # enough jobs whose data may go nowhere would starve everything behind them.
            if examined >= self.max_candidates:
                break
            key = blocked_key(self.preemption, book, job, ctx, head)
            if self._known_blocked(book, job, key, head, ctx, decisions):
                if job.hold_reason not in ROOM_REASONS:
                    continue
                examined += 1
                if job.hold_reason != "insufficient-capacity":
                    continue
                if self.backfill == "none":
                    break
                if self.backfill == "easy" and head is None:
                    head = reservation_for(
                        self.placement, book, job, self._eligible_pools(job, ctx)[0], now
                    )
                continue
            # 2. Admission: may this job run at all, and in which pools?
            pools, refusal = self._eligible_pools(job, ctx)
            if refusal is not None:
                mark_blocked(book, job, key, head, now)
                self._hold(book, decisions, job, *refusal)
                if refusal[2] and all(r.by in parking for r in refusal[2]):
                    to_park.append(job)
                continue
            examined += 1
            # 3. Placement: filter, then score. Behind a blocked head, keep off the nodes
            #    reserved for it unless the job will be gone by then (EASY backfill).
            avoid = None
            if head is not None and not head.ends_in_time(job, now):
                avoid = head.node_mask
            open_pools = [p for p in pools if not dominated(job, no_room.get(p))]
            alloc = self.placement.place(job, book.cluster, book.sites, open_pools, avoid)
            if alloc is None and head is not None and avoid is not None:
                mark_blocked(book, job, key, head, now)
                message = f"room is reserved for job {head.job_id}"
                self._hold(book, decisions, job, "reserved", message, ctx=ctx)
                continue
            if alloc is not None:
                self._start(book, job, alloc, ctx)
                started.add(job.id)
                decisions.append(Start(job.id, alloc, backfilled=head is not None))
                continue
            mark_blocked(book, job, key, head, now)
            for pool in open_pools:
                remember_no_room(no_room.setdefault(pool, []), job)
            # 4. Preemption: evict cheaper work if the policy allows it.
            if head is None and self.preemption is not None:
                evicted = preempt_for(
                    self.placement, self.preemption, book, job, pools, ctx, decisions
                )
                if evicted:
                    no_room.clear()  # victims freed capacity
                if evicted is not None:
                    if book.graceful_stop and evicted:
                        # Its victims keep their resources until they report stopped.
                        self._hold(book, decisions, job, *_awaiting(evicted))
                        continue
                    requeue.extend(evicted)
                    started.add(job.id)
                    self._started(job, book.allocations[job.id].pool, ctx)
                    continue
            # 5. Blocked. Strict order stops here; EASY reserves for the first blocked job.
            message = self._no_room_message(job)
            self._hold(book, decisions, job, "insufficient-capacity", message, ctx=ctx)
            if self.backfill == "none":
                break
            if self.backfill == "easy" and head is None:
                head = reservation_for(self.placement, book, job, pools, now)
        book.reservation = head
        # 6. Settle the queue now that iteration is over.
        for job in to_park:
            book.park(job)
        for decision in decisions:
            if isinstance(decision, Start):
                queued = book.pending.get(decision.job_id)
                if queued is not None:  # (a job may start, then be preempted, in one step)
                    book.pending.remove(queued)
        for job in requeue:
            book.requeue(job)
        return decisions

    def next_wakeup(self, book: SchedulerBook, now: float) -> float | None:
        """When the driver must call `step` again even if nothing happens (round ends)."""
        if self.rounds is None or (not book.pending and not book.running):
            return None
        return self.rounds.next_round(now, book.last_round)

    # ------------------------------------------------------------------------------------
    def _start(self, book: SchedulerBook, job: Job, alloc: Allocation, ctx: Context) -> None:
        book.start(job, alloc, ctx.now)
        self.placement.placed(book.cluster, alloc)
        self._started(job, alloc.pool, ctx)

    def _started(self, job: Job, pool: int, ctx: Context) -> None:
        for policy in self.pool_filters:
            policy.started(job, pool, ctx)

    def _known_blocked(
        self,
        book: SchedulerBook,
        job: Job,
        key: tuple[int, int, int, int],
        head: Reservation | None,
        ctx: Context,
        decisions: list[Decision],
    ) -> bool:
        """True when the job provably still cannot start, so the step can skip its work:
        nothing it depends on changed since it last could not start, or only things that
        cannot help it (see `_still_no_room`). Keeps its hold reason what a full look gives."""
        now = ctx.now
        if job.blocked_key == key and job.blocked_avoid == kept_off(head, job, now):
            return True
        if not still_no_room(self.preemption, book, job, key, head, now):
            return False
        mark_blocked(book, job, key, head, now)
        if job.hold_reason in ("reserved", "insufficient-capacity"):
            if job.blocked_avoid and head is not None:
                message = f"room is reserved for job {head.job_id}"
                self._hold(book, decisions, job, "reserved", message, ctx=ctx)
            else:
                message = self._no_room_message(job)
                self._hold(book, decisions, job, "insufficient-capacity", message, ctx=ctx)
        return True

    def _start_preemptors(
        self, book: SchedulerBook, ctx: Context, decisions: list[Decision], started: set[int]
    ) -> None:
        ready, book.ready_preemptors = book.ready_preemptors, []
        for job_id in ready:
            job = book.pending.get(job_id)
            if job is None:
                continue  # cancelled meanwhile
            pools, refusal = self._eligible_pools(job, ctx)
            if refusal is not None:
                continue
            alloc = self.placement.place(job, book.cluster, book.sites, pools)
            if alloc is not None:
                self._start(book, job, alloc, ctx)
                started.add(job.id)
                decisions.append(Start(job.id, alloc))

    def _run_round(
        self, book: SchedulerBook, ctx: Context, decisions: list[Decision], started: set[int]
    ) -> list[Job]:
        assert self.rounds is not None
        book.last_round = ctx.now
        plan = self.rounds.plan(book, ctx)
        wanted = {p.job.id: p.accelerator_types for p in plan}
        suspended: list[Job] = []
        # In id order: a rebuilt book's running jobs are in load order, not start order.
        for job in sorted(book.running.values(), key=lambda j: j.id):
            types = wanted.get(job.id, ())
            if job.id in wanted and (types is None or job.running_type in types):
                continue
            book.preempt(job, ctx.now, checkpoint_now=True)
            decisions.append(Preempt(job.id, "round ended", checkpoint_now=True))
            if not book.graceful_stop:  # else it requeues once it reports stopped
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
                self._start(book, job, alloc, ctx)
                started.add(job.id)
                decisions.append(Start(job.id, alloc))
                if moved.pop(job.id, None) is not None:
                    suspended.remove(job)
        return suspended

    def _eligible_pools(self, job: Job, ctx: Context) -> tuple[list[int], Refused | None]:
        if job.eligible_pools is None:
            job.eligible_pools = ctx.cluster.pools_for(
                job.accelerator_types, job.sites, job.demand.gpu_slots > 0
            )
        if not job.eligible_pools:
            message = "no site has the accelerator types the job accepts"
            return [], ("no-matching-pool", message, ())
        for admission in self.admission:
            refusal = admission.check(job, ctx)
            if refusal is not None:
                return [], (*refusal, ())
        filters = [f for f in self.pool_filters if f.applies(job, ctx)]
        if not filters:
            return job.eligible_pools, None
        pools: list[int] = []
        refusals: list[Refusal] = []
        for pool in job.eligible_pools:
            refused = _refusal_at(filters, job, pool, ctx)
            if refused is None:
                pools.append(pool)
            else:
                refusals.append(refused)
        if pools:
            return pools, None
        first = refusals[0]
        return pools, (first.reason, first.message, tuple(refusals))

    def unsatisfiable(self, book: SchedulerBook, job: Job) -> str | None:
        """Why the job could never run on this cluster even if it were empty, or None."""
        shape = (job.demand, job.workers, job.accelerator_types, job.sites, job.tenant)
        if shape not in book.feasibility:
            book.remember_shape(shape, self._unsatisfiable(book, job))
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

    def _hold(
        self,
        book: SchedulerBook,
        decisions: list[Decision],
        job: Job,
        reason: str,
        message: str,
        refusals: tuple[Refusal, ...] = (),
        ctx: Context | None = None,
    ) -> None:
        stopping = book.tenants.get(job.tenant).jobs_stopping if reason in STOPPING_COUNTED else 0
        told = book.holds.get(job.id) if reason in FIGURES_TOLD else None
        if (
            job.hold_reason != reason
            or stopping != job.hold_stopping
            or (told is not None and told.message != message)
        ):
            job.hold_reason, job.hold_stopping = reason, stopping
            if ctx is not None and not refusals:
                refusals = self._room_refusals(job, ctx, reason, message)
            hold = Hold(job.id, reason, message, refusals)
            book.holds[job.id] = hold
            decisions.append(hold)

    def _room_refusals(
        self, job: Job, ctx: Context, reason: str, message: str
    ) -> tuple[Refusal, ...]:
        """Every pool's answer for a job that waits for room: a policy's refusal where one
        refuses the pool, else `reason` (WAIT). Only built when a hold is reported."""
        filters = [f for f in self.pool_filters if f.applies(job, ctx)]
        out: list[Refusal] = []
        for pool in job.eligible_pools or ():
            refusal = _refusal_at(filters, job, pool, ctx)
            if refusal is None:
                info = ctx.cluster.pools[pool]
                refusal = Refusal(info.site_name, info.accelerator, reason, message)
            out.append(refusal)
        return tuple(out)

    @staticmethod
    def _no_room_message(job: Job) -> str:
        need = f"{job.workers} x {job.demand.gpus:g} accelerators" if job.gpus else "CPU"
        return f"waiting for {need} to be free in one pool"


def _refusal_at(filters: Sequence[PoolFilter], job: Job, pool: int, ctx: Context) -> Refusal | None:
    """The first filter's refusal of `pool` for `job`, or None when every filter passes it."""
    for policy in filters:
        refused = policy.check(job, pool, ctx)
        if refused is not None:
            info = ctx.cluster.pools[pool]
            return Refusal(info.site_name, info.accelerator, *refused, policy.severity, policy.name)
    return None


def _awaiting(victims: list[Job]) -> tuple[str, str]:
    ids = ", ".join(str(v.id) for v in victims)
    return ("awaiting-preemption", f"waiting for preempted jobs {ids} to stop")
