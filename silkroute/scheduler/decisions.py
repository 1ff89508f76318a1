"""What one scheduling step decides, as plain values. Drivers (simulator, control plane)
carry these out and report back to the book (see `SchedulerBook.commit`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from silkroute.scheduler.state import Allocation


class Severity(StrEnum):
    """How a refusal may clear: WAIT by itself (capacity, usage under a quota coming back),
    or DENY until someone acts (a rule, a missing contract, the wrong site or type)."""

    WAIT = "wait"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one pool (site x accelerator type) will not take the job now."""

    site: str
    accelerator: str | None
    reason: str  # stable code, e.g. "quota-exceeded", "latency-slo"
    message: str
    severity: Severity = Severity.WAIT
    by: str = ""  # the policy that refused (its registry name)


@dataclass(frozen=True, slots=True)
class Start:
    """Launch the job on `allocation` (pool index, and node index and device slots per
    worker; `SchedulerBook.placement_of` gives node names)."""

    job_id: int
    allocation: Allocation
    backfilled: bool = False


@dataclass(frozen=True, slots=True)
class Preempt:
    """Stop the job (SIGTERM, grace period); it goes back to the queue once stopped."""

    job_id: int
    reason: str
    by_job: int | None = None
    checkpoint_now: bool = False  # True: the stop itself checkpoints (no work is lost)


@dataclass(frozen=True, slots=True)
class Hold:
    """The job stays queued; `reason` is a stable code, `message` is for people.
    `refusals`: every pool's answer: a policy's refusal (DENY or WAIT), or for a job that
    waits for room, the room reason (WAIT) where no policy refused the pool."""

    job_id: int
    reason: str
    message: str
    refusals: tuple[Refusal, ...] = ()


Decision = Start | Preempt | Hold
