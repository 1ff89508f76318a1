"""silkroute's heterogeneity-aware time-slicing: LAS picks who runs, speed picks where.

Every round (360 s by default, as Gavel):
1. Rank waiting and running jobs by heterogeneity-aware LAS (`HeteroLasOrder`): least work
   done first, in a few queues, first come first served inside a queue.
2. In that order, give each job the fastest type that still has room for its whole gang; a
   job that fits nowhere waits for the next round (or for capacity freed mid-round).
3. Re-deal the types among the chosen jobs of each gang size so that the jobs that gain most
   from a fast type get it: sorted by how much slower they are on the slowest type they were
   dealt, the most speed-sensitive take the fastest accelerators. The set of jobs that runs is
   unchanged; only the total work done per second grows.
Jobs left out are suspended at the boundary with a checkpoint and resume, on whatever type,
from their progress. Unlike Gavel's max-min fairness, no LP and no time-share bookkeeping:
priority comes from attained service (short jobs finish first, as with Tiresias), and the
allocation is recomputed every round, so new jobs start at the next event instead of waiting
for the next allocation reset.
"""

from __future__ import annotations

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, Planned
from silkroute.scheduler.policies.order_hetero_las import HeteroLasOrder
from silkroute.scheduler.policies.rounds_base import EagerRounds, active_jobs, type_capacity
from silkroute.scheduler.speed import relative_speed


class HeteroLasRounds(EagerRounds):
    name = "hetero-las"

    def __init__(self, round_s: float = 360.0, order: HeteroLasOrder | None = None) -> None:
        super().__init__(round_s)
        self.order = order or HeteroLasOrder()

    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]:
        now = ctx.now
        capacity = type_capacity(book)
        jobs = active_jobs(book)
        jobs.sort(key=lambda j: self.order.key_at(j, now))
        speed = {j.id: _speeds(j, capacity) for j in jobs}
        # Fastest type first, by the median job's speed on it.
        types = sorted(capacity, key=lambda t: -_median([speed[j.id].get(t, 0.0) for j in jobs]))
        left = dict(capacity)
        dealt: list[tuple[Job, str]] = []
        for job in jobs:
            where = max(
                (t for t in types if left[t] >= job.workers and speed[job.id].get(t, 0.0) > 0),
                key=lambda t: speed[job.id][t],
                default=None,
            )
            if where is not None:
                left[where] -= job.workers
                dealt.append((job, where))
        dealt = _redeal(dealt, types, speed)
        return [Planned(job, (t,)) for job, t in dealt]


def _speeds(job: Job, capacity: dict[str, int]) -> dict[str, float]:
    """Speed on each type relative to the job's fastest (1.0); 0 where it cannot run."""
    return {t: relative_speed(job, t) for t in capacity}


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _redeal(
    dealt: list[tuple[Job, str]], types: list[str], speed: dict[int, dict[str, float]]
) -> list[tuple[Job, str]]:
    """Same jobs, same slots per gang size; fast types to the jobs that lose most without."""
    slowest = types[-1] if types else ""
    by_size: dict[int, list[tuple[Job, str]]] = {}
    for job, t in dealt:
        by_size.setdefault(job.workers, []).append((job, t))
    out: list[tuple[Job, str]] = []
    for group in by_size.values():
        slots = sorted((t for _, t in group), key=types.index)
        # Most speed-sensitive first: lowest relative speed on the slowest type.
        members = sorted(group, key=lambda jt: (speed[jt[0].id].get(slowest, 0.0), jt[0].id))
        assigned: list[tuple[Job, str]] = []
        pool = list(slots)
        for job, _ in members:
            pick = next((t for t in pool if speed[job.id].get(t, 0.0) > 0), None)
            if pick is None:
                break
            pool.remove(pick)
            assigned.append((job, pick))
        out += assigned if len(assigned) == len(group) else group  # keep the first deal if stuck
    return out
