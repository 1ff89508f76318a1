"""What one scheduling step decides. Drivers (simulator, control plane) carry these out."""

from __future__ import annotations

from dataclasses import dataclass

from silkroute.model.workload import Job
from silkroute.scheduler.state import Allocation


@dataclass(frozen=True, slots=True)
class Start:
    job: Job
    allocation: Allocation
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class Preempt:
    job: Job
    reason: str
    by_job: int | None = None
    checkpoint_now: bool = False  # True: the stop itself checkpoints (no work is lost)


@dataclass(frozen=True, slots=True)
class Hold:
    """The job stays queued; `reason` is a stable code, `message` is for people."""

    job: Job
    reason: str
    message: str


Decision = Start | Preempt | Hold
