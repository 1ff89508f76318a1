"""Round-based time slicing (Gavel, Tiresias): every `round_s` a policy re-plans who runs.

At a round boundary the policy returns the jobs that should run in the next round, best
first, each with the accelerator types it should run on. The scheduler suspends running jobs
left out of the plan (they checkpoint at the boundary, so no work is lost), then starts the
planned ones in order; the ordinary queue walk then fills what is left.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context


@dataclass(frozen=True, slots=True)
class Planned:
    job: Job
    accelerator_types: tuple[str, ...] | None = None  # None: wherever it may run


class RoundPolicy(ABC):
    name: str = "rounds"

    def __init__(self, round_s: float = 360.0) -> None:
        if round_s <= 0:
            raise ValueError("round length must be > 0 seconds")
        self.round_s = round_s

    def next_round(self, now: float) -> float:
        return (math.floor(now / self.round_s) + 1) * self.round_s

    def due(self, book: SchedulerBook, now: float) -> bool:
        last = book.last_round
        return last is None or now >= last + self.round_s - 1e-9

    @abstractmethod
    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]: ...
