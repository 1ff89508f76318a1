"""`hetero-srtf` whose deal is then improved by swapping types between pairs of jobs.

The greedy deal of `hetero-srtf` (pairs scored speed / work owed, best first) can strand a job
on a type where it crawls while a job that would lose little there holds the fast type: with
one V100 and one K80, a job that runs 0.9x on a K80 and one that runs 0.1x there, owing about
the same, are dealt in arrival order, so the first may take the V100 and leave the second to
crawl. Every round:

1. Deal as `hetero-srtf` does (weight `owed = banded remaining work x GPUs`).
2. For every two types X, Y and every gang width, swap a job on X with a job on Y when that
   raises the total `speed / owed` of the two: for a on X and b on Y the swap gains
   `adv(b) - adv(a)`, where `adv(j) = (speed_X - speed_Y) / owed_j` is how much more j
   retires per second on X than on Y. Jobs on X sorted by adv ascending meet jobs on Y sorted
   descending, swapped while the gain is positive; a few passes over the type pairs.

The set of jobs that runs and the accelerators each type gives out are unchanged; only who sits
where. Like `hetero-srtf`, it reads speeds per type, elapsed service and users' time limits,
never run times. How it was chosen (and a variant that was not kept): docs/gavel.md.
"""

from __future__ import annotations

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, Planned
from silkroute.scheduler.policies.rounds_base import EagerRounds, active_jobs, type_capacity
from silkroute.scheduler.policies.rounds_hetero_las import _median, _speeds
from silkroute.scheduler.policies.rounds_hetero_srtf import deal, discretised, remaining_work_s

SWAP_PASSES = 3


def swap_types(
    dealt: list[tuple[Job, str]],
    types: list[str],
    speed: dict[int, dict[str, float]],
    owed: dict[int, float],
) -> list[tuple[Job, str]]:
    """The same jobs and the same number of accelerators per type and width, re-seated so that
    no swap of two same-width jobs between two types raises the total `speed / owed`."""
    where = {job.id: t for job, t in dealt}
    width = {job.id: job.workers for job, _ in dealt}
    for _ in range(SWAP_PASSES):
        swapped = False
        for i, x in enumerate(types):
            for y in types[i + 1 :]:
                for w in sorted({width[k] for k in where if where[k] in (x, y)}):

                    def advantage(k: int, x: str = x, y: str = y) -> float:
                        return (speed[k].get(x, 0.0) - speed[k].get(y, 0.0)) / owed[k]

                    def seated(t: str, other: str, w: int = w) -> list[int]:
                        return [
                            k
                            for k in where
                            if where[k] == t and width[k] == w and speed[k].get(other, 0.0) > 0
                        ]

                    on_x = sorted(seated(x, y), key=advantage)
                    on_y = sorted(seated(y, x), key=advantage, reverse=True)
                    for a, b in zip(on_x, on_y, strict=False):
                        if advantage(b) <= advantage(a):
                            break
                        where[a], where[b] = y, x
                        swapped = True
        if not swapped:
            break
    return [(job, where[job.id]) for job, _ in dealt]


class HeteroSrtfSwapRounds(EagerRounds):
    name = "hetero-srtf-swap"

    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]:
        capacity = type_capacity(book)
        types = list(capacity)
        jobs = active_jobs(book)
        owed = {j.id: discretised(remaining_work_s(j, ctx.now, types)) * j.workers for j in jobs}
        speed = {j.id: _speeds(j, capacity) for j in jobs}
        # Fastest type first, by the median job's speed on it: ties go to the faster type.
        types.sort(key=lambda t: -_median([speed[j.id].get(t, 0.0) for j in jobs]))
        dealt = swap_types(deal(jobs, types, capacity, speed, owed), types, speed, owed)
        return [Planned(job, (t,)) for job, t in dealt]
