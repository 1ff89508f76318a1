"""Shared pieces of the time-slicing round policies: round timing and per-type speed.

Rounds here are measured from the previous round, not from a fixed grid, and a round starts
at once when the cluster is idle and work arrives: Gavel's simulator jumps to the next
arrival instead of waiting for a grid point.
"""

from __future__ import annotations

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import RoundPolicy


class EagerRounds(RoundPolicy):
    """A round every `round_s` after the last one, or now if nothing runs."""

    def due(self, book: SchedulerBook, now: float) -> bool:
        last = book.last_round
        if last is None or now >= last + self.round_s - 1e-9:
            return True
        return not book.running and len(book.pending) > 0

    def next_round(self, now: float, last_round: float | None = None) -> float:
        if last_round is None or last_round + self.round_s <= now:
            return now + self.round_s
        return last_round + self.round_s


def active_jobs(book: SchedulerBook) -> list[Job]:
    """Waiting and running jobs, in id order (deterministic)."""
    jobs = book.pending.jobs() + list(book.running.values())
    jobs.sort(key=lambda j: j.id)
    return jobs


def type_capacity(book: SchedulerBook) -> dict[str, int]:
    """Accelerators of each type in the whole cluster."""
    return dict(book.cluster.capacity_by_type)
