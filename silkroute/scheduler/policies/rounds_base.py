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

    def __init__(self, round_s: float = 360.0) -> None:
        super().__init__(round_s)
        self._last: float | None = None

    def due(self, book: SchedulerBook, now: float) -> bool:
        last = book.last_round
        if last is None or now >= last + self.round_s - 1e-9:
            return True
        return not book.running and len(book.pending) > 0

    def next_round(self, now: float) -> float:
        if self._last is None or self._last + self.round_s <= now:
            return now + self.round_s
        return self._last + self.round_s

    def begin(self, now: float) -> None:
        """Call at the start of `plan`: remembers when this round began."""
        self._last = now


def active_jobs(book: SchedulerBook) -> list[Job]:
    """Waiting and running jobs, in id order (deterministic)."""
    jobs = book.pending.jobs() + list(book.running.values())
    jobs.sort(key=lambda j: j.id)
    return jobs


def type_capacity(book: SchedulerBook) -> dict[str, int]:
    """Accelerators of each type in the whole cluster."""
    return dict(book.cluster.capacity_by_type)
