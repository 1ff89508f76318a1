"""Every scheduling policy interface, in one place: the plug-in seam of the scheduler.

| interface | question it answers | built-ins (registry names) |
|---|---|---|
| `QueueOrder` | which pending job goes first | fifo, priority, fairshare, las, speed-las |
| `Admission` | may this job run at all now | vouchers, budget, running-jobs (rounds add a gate) |
| `PoolFilter` | may it run in this pool (site x type) | quota, latency-slo (and data-law) |
| `PoolScorer` | which pool is best | locality, latency, speed, price |
| `NodeScorer` | which node inside a pool | packing, spread, fgd, silk, bestfit, ... |
| `PreemptionPolicy` | whom may it evict | priority, none |
| `RoundPolicy` | who runs next round (time slicing) | gavel-mmf, hetero-las |
| backfill mode | what may pass a blocked job | easy, greedy, none (`BACKFILL_MODES`) |

Register new ones in `silkroute.scheduler.registry.REGISTRY`. A policy sees only what a live
system knows: the request, users' time limits, elapsed service and speed per type, queue and
cluster state; never a job's true run time. One policy, one file.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.decisions import Severity
from silkroute.scheduler.job import Job
from silkroute.scheduler.memory import PolicyMemories
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState, IntArray
from silkroute.scheduler.tenants import TenantAccount, TenantBook

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook

FloatArray = npt.NDArray[np.float64]
BACKFILL_MODES = ("easy", "greedy", "none")
_NOTHING_TO_RESTORE = nullcontext()


@dataclass(frozen=True, slots=True)
class Context:
    """Read-only view handed to policies during a step."""

    cluster: ClusterState
    sites: SiteCatalog
    tenants: TenantBook
    now: float
    # The book's policy memory (what policies remember between steps; see memory.py).
    memory: PolicyMemories = field(default_factory=PolicyMemories)


class QueueOrder(ABC):
    """Which pending job goes first.

    `job_key` must not change while a job waits (the queue is kept sorted by it). Orders that
    share between tenants also rank tenants, by usage that changes as jobs start.
    """

    name: str = "order"
    tenant_aware: bool = False

    @abstractmethod
    def job_key(self, job: Job) -> tuple[Hashable, ...]: ...

    def tenant_rank(self, account: TenantAccount, ctx: Context) -> float:
        return 0.0


class Admission(ABC):
    """May this job run at all now (whatever the placement)? None = yes, else a reason code."""

    name: str = "admission"

    @abstractmethod
    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None: ...


class PoolFilter(ABC):
    """May this job run in this pool (site x accelerator type)? None = yes, else a reason."""

    name: str = "pool-filter"
    # WAIT: the refusal may clear by itself (usage drops); DENY: someone must act.
    severity: Severity = Severity.WAIT
    # Moves whenever the filter's answers may have changed for a reason the cluster does not
    # show (new rules, grants, a new day, a tenant's yearly count): the scheduler then looks
    # at every waiting job again, parked ones included.
    version: int = 0
    # True when only such a change clears this filter's refusals (waiting for room never
    # does): a job that every pool refuses for this filter is parked out of the walk, as
    # Kueue parks inadmissible workloads, until `version` moves or the cluster is reshaped.
    parks: bool = False

    def applies(self, job: Job, ctx: Context) -> bool:
        """Cheap test: False when `check` would pass every pool for this job."""
        return True

    def started(self, job: Job, pool: int, ctx: Context) -> None:
        """The step started `job` in `pool` (a filter that counts what ran updates itself)."""
        return None

    def take_changed(self) -> Callable[[Job], bool] | None:
        """Which waiting jobs' answers changed since last asked (a narrower `version` move:
        only those are looked at again); None when none did."""
        return None

    @abstractmethod
    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None: ...


class PreemptionPolicy(ABC):
    """Which running jobs a pending job may evict, cheapest first."""

    name: str = "preemption"
    # True when victims always have a lower priority than the pending job: the scheduler
    # then stops scanning candidates, kept sorted by priority, at the first that is not.
    only_lower_priority: bool = True

    @abstractmethod
    def may_preempt(self, pending: Job, running: Job, ctx: Context) -> bool: ...

    def victim_key(self, running: Job, ctx: Context) -> tuple[float, ...]:
        # Lowest priority first, then the one that started last (least work lost).
        return (running.priority, -(running.start_time or 0.0), running.id)


class NodeScorer(ABC):
    """Ranks candidate nodes for one worker; lower is better.

    A scorer that remembers something between steps keeps it in the book (`attach` hands it
    the book at every step), changes it only in `placed` (a start the scheduler proposed) and
    leaves it as it was inside `what_if` (hypothetical placements), so a book rebuilt from a
    snapshot makes the same choices."""

    name: str = "node-scorer"

    @abstractmethod
    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray: ...

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        """Which accelerators of `node` (free thousandths in `free_row`) one worker takes."""
        return best_fit_slots(free_row, demand)

    def attach(self, book: SchedulerBook) -> None:
        """The book whose step this is (its memory is the scorer's from now on)."""
        return None

    def placed(self, state: ClusterState, alloc: Allocation) -> None:
        """`alloc` was taken (already applied to `state`): learn from it."""
        return None

    def what_if(self) -> AbstractContextManager[object]:
        """Placements inside are hypothetical: the scorer's memory must come out unchanged."""
        return _NOTHING_TO_RESTORE


class PoolScorer(ABC):
    """Ranks pools (site x accelerator type) for a job; lower is better."""

    name: str = "pool-scorer"
    # False when the score depends only on the job and the site (not on free capacity),
    # so it can be computed once per job.
    depends_on_state: bool = False

    @abstractmethod
    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float: ...


def best_fit_slots(free_row: IntArray, demand: Demand) -> tuple[int, ...]:
    if demand.gpu_slots == 0:
        return ()
    if demand.gpu_milli == MILLI:
        whole = np.flatnonzero(free_row == MILLI)
        return tuple(int(s) for s in whole[: demand.gpu_slots])
    fits = np.flatnonzero(free_row >= demand.gpu_milli)
    # Tightest slot that still fits: leaves whole devices whole for whole-device jobs.
    return (int(fits[np.argmin(free_row[fits])]),)


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

    def next_round(self, now: float, last_round: float | None = None) -> float:
        """When the next round is due (`last_round`: when the book's last one began)."""
        return (math.floor(now / self.round_s) + 1) * self.round_s

    def due(self, book: SchedulerBook, now: float) -> bool:
        last = book.last_round
        return last is None or now >= last + self.round_s - 1e-9

    @abstractmethod
    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]: ...
