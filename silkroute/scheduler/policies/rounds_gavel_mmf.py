"""Gavel's heterogeneity-aware max-min fairness (OSDI'20, `max_min_fairness_perf`), as a baseline.

Two parts, as in Gavel's simulator:

1. An allocation X[job, type] (share of time on each accelerator type) from an LP that
   maximises the smallest *normalised effective throughput*
   `sum_k X[i,k] * rate[i,k] * scale[i] / equal_share_rate[i]` subject to
   `sum_k X[i,k] <= 1` and `sum_i X[i,k] * scale[i] <= accelerators of type k`.
   `equal_share_rate` is the job's rate on an equal 1/n split of every type (Gavel's
   proportional policy), so each job is measured against what an even split would give it.
   Gavel re-solves only when the set of jobs changed and at least `reset_s` (1,920 s) passed
   since the last solve; jobs that arrived since have no allocation and wait.
2. A round-based mechanism: every `round_s` (360 s) each type's jobs are ranked by
   `X[i,k] / (time received on k / time of k handed out)`; jobs whose share is furthest behind
   run next, first the V100 list, then P100, then K80, a job at most once per round.

Between rounds nothing new starts (`RoundGate`): Gavel's simulator only dispatches at round
boundaries.

Everything the policy remembers between rounds (allocation, time received per type, deficits,
the last plan, when the LP was last solved) is a `GavelMemory` in the book, so it is in the
book's snapshot and a rebuilt book plans the same rounds.

Differences from Gavel's code, all in the baseline's favour: LP ties are broken toward the
largest total effective throughput (a second LP; Gavel's interior-point solver returns some
point of the optimal face); a job without an allocation does not take leftover accelerators
that then stay idle; an idle cluster re-plans every round instead of at the next arrival.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.job import Job
from silkroute.scheduler.memory import PolicyMemories, PolicyMemory
from silkroute.scheduler.policies.base import Admission, Context, Planned
from silkroute.scheduler.policies.rounds_base import EagerRounds, active_jobs, type_capacity
from silkroute.scheduler.speed import relative_speed

GAVEL_TYPE_ORDER = ("V100", "P100", "K80")  # Gavel's fixed order for `*_perf` policies

Shares = dict[int, dict[str, float]]  # job id -> accelerator type -> seconds or share


@dataclass(frozen=True, slots=True)
class Ended:
    """A job of the last plan that had ended when the book was saved: only its end matters."""

    id: int
    end_time: float | None
    running_type: str | None = None


@dataclass
class GavelMemory(PolicyMemory):
    """Gavel's state between rounds (see the module docstring)."""

    kind = "gavel-mmf"

    alloc: Shares = field(default_factory=dict)  # the LP's time share per job and type
    job_time: Shares = field(default_factory=dict)  # time received per type since the reset
    deficit: Shares = field(default_factory=dict)  # time owed per type, folded at resets
    worker_time: dict[str, float] = field(default_factory=dict)  # time handed out per type
    planned_ids: set[int] = field(default_factory=set)  # jobs of the current round's plan
    lp_solves: int = 0
    # The jobs planned last round and their types (records: a job may end and leave the book
    # before the next round reads how long it ran).
    last_plan: Sequence[tuple[Job | Ended, str]] = ()
    last_plan_at: float | None = None
    last_reset: float | None = None
    allocated_ids: frozenset[int] = frozenset()  # the jobs the allocation was solved for

    def to_dict(self) -> dict[str, Any]:
        return {
            "alloc": _rows(self.alloc),
            "job_time": _rows(self.job_time),
            "deficit": _rows(self.deficit),
            "worker_time": dict(self.worker_time),
            "planned_ids": sorted(self.planned_ids),
            "lp_solves": self.lp_solves,
            # A job of the last plan may have ended (and left the book): its end time goes too.
            "last_plan": [[job.id, t, job.end_time] for job, t in self.last_plan],
            "last_plan_at": self.last_plan_at,
            "last_reset": self.last_reset,
            "allocated_ids": sorted(self.allocated_ids),
        }

    @classmethod
    def load(cls, data: Mapping[str, Any], book: SchedulerBook) -> GavelMemory:
        live = {job.id: job for job in book.jobs()}
        last_plan: list[tuple[Job | Ended, str]] = []
        for job_id, t, end_time in data["last_plan"]:
            job = live.get(int(job_id))
            last_plan.append((job or Ended(int(job_id), end_time), str(t)))
        return cls(
            alloc=_unrows(data["alloc"]),
            job_time=_unrows(data["job_time"]),
            deficit=_unrows(data["deficit"]),
            worker_time={str(t): float(v) for t, v in data["worker_time"].items()},
            planned_ids={int(i) for i in data["planned_ids"]},
            lp_solves=int(data["lp_solves"]),
            last_plan=last_plan,
            last_plan_at=data["last_plan_at"],
            last_reset=data["last_reset"],
            allocated_ids=frozenset(int(i) for i in data["allocated_ids"]),
        )


def _rows(shares: Shares) -> list[list[Any]]:
    # Pairs, not an object: job ids stay integers, and the order (which sums follow) stays.
    return [[job_id, dict(per_type)] for job_id, per_type in shares.items()]


def _unrows(rows: list[list[Any]]) -> Shares:
    return {int(j): {str(t): float(v) for t, v in per_type.items()} for j, per_type in rows}


class GavelMaxMinFairness(EagerRounds):
    name = "gavel-mmf"

    def __init__(self, round_s: float = 360.0, reset_s: float = 1920.0) -> None:
        super().__init__(round_s)
        self.reset_s = reset_s

    def memory(self, memories: PolicyMemories) -> GavelMemory:
        return memories.get(self.name, GavelMemory, GavelMemory)

    # ------------------------------------------------------------------------------------
    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]:
        now = ctx.now
        mem = self.memory(book.memory)
        capacity = type_capacity(book)
        types = [t for t in GAVEL_TYPE_ORDER if t in capacity]
        types += sorted(t for t in capacity if t not in types)
        self._account_last_round(mem, now, types)
        jobs = active_jobs(book)
        ids = frozenset(j.id for j in jobs)
        for job in jobs:
            if job.id not in mem.job_time:
                mem.job_time[job.id] = dict.fromkeys(types, self.round_s / 2)
                mem.deficit[job.id] = dict.fromkeys(types, 0.0)
        for gone in [i for i in mem.job_time if i not in ids]:
            del mem.job_time[gone], mem.deficit[gone]
            mem.alloc.pop(gone, None)
        changed = ids != mem.allocated_ids
        if changed and (mem.last_reset is None or now - mem.last_reset >= self.reset_s):
            self._reset(mem, now, types)
            mem.alloc = max_min_allocation(jobs, types, capacity)
            mem.lp_solves += 1
            mem.allocated_ids = ids
        chosen = self._choose(mem, jobs, types, capacity)
        mem.last_plan = chosen
        mem.last_plan_at = now
        mem.planned_ids = {job.id for job, _ in chosen}
        # Largest gangs first, as Gavel assigns workers, to keep servers whole.
        chosen = sorted(chosen, key=lambda jt: (-jt[0].workers, jt[0].id))
        return [Planned(job, (t,)) for job, t in chosen]

    def _account_last_round(self, mem: GavelMemory, now: float, types: list[str]) -> None:
        if mem.last_plan_at is None:
            return
        for job, t in mem.last_plan:
            if job.end_time is not None:
                ran = max(0.0, job.end_time - mem.last_plan_at)
            elif job.running_type == t:
                ran = now - mem.last_plan_at
            else:
                continue
            ran = min(ran, now - mem.last_plan_at)
            if job.id in mem.job_time:
                mem.job_time[job.id][t] += ran
            mem.worker_time[t] = mem.worker_time.get(t, 0.0) + ran

    def _reset(self, mem: GavelMemory, now: float, types: list[str]) -> None:
        """Gavel's `_reset_time_run_so_far`: fold time received vs owed into deficits."""
        since = 0.0 if mem.last_reset is None else now - mem.last_reset
        for t in types:
            mem.worker_time[t] = 0.0
        for job_id, times in mem.job_time.items():
            owed = mem.alloc.get(job_id, {})
            for t in types:
                received = times[t] - self.round_s / 2
                mem.deficit[job_id][t] += owed.get(t, 0.0) * since - received
                times[t] = self.round_s / 2
                mem.worker_time[t] += times[t]
        mem.last_reset = now

    def _choose(
        self, mem: GavelMemory, jobs: list[Job], types: list[str], capacity: dict[str, int]
    ) -> list[tuple[Job, str]]:
        left = dict(capacity)
        taken: set[int] = set()
        chosen: list[tuple[Job, str]] = []
        for t in types:
            ranked: list[tuple[tuple[float, float, float, int], Job]] = []
            for job in jobs:
                if job.id not in mem.alloc or relative_speed(job, t) <= 0:
                    continue  # no allocation yet (arrived since the last solve), or cannot run
                share = mem.alloc[job.id].get(t, 0.0)
                key = (-_priority(mem, job.id, t, share), -mem.deficit[job.id][t], -share, job.id)
                ranked.append((key, job))
            # Highest priority, then deficit, then share first; ties by id (Gavel: insertion).
            for _, job in sorted(ranked, key=lambda r: r[0]):
                if left[t] == 0:
                    break
                if job.id in taken or job.workers > left[t]:
                    continue
                left[t] -= job.workers
                taken.add(job.id)
                chosen.append((job, t))
        return chosen

    def gate(self) -> Admission:
        return RoundGate(self)

    @classmethod
    def with_gate(cls, round_s: float = 360.0) -> tuple[GavelMaxMinFairness, list[Admission]]:
        """The policy and the admission that holds unplanned jobs until a round starts."""
        rounds = cls(round_s)
        return rounds, [rounds.gate()]


def _priority(mem: GavelMemory, job_id: int, t: str, share: float) -> float:
    if share <= 0.0:
        return 0.0
    worker_time = mem.worker_time.get(t, 0.0)
    fraction = mem.job_time[job_id][t] / worker_time if worker_time > 0 else 0.0
    # Gavel: a job not yet run on this type goes first, scaled by its share.
    return share / fraction if fraction > 0 else share * 1e9


class RoundGate(Admission):
    """Only jobs in the current round's plan may start (Gavel dispatches at round starts)."""

    name = "round-gate"

    def __init__(self, rounds: GavelMaxMinFairness) -> None:
        self.rounds = rounds

    def check(self, job: Job, ctx: Context) -> tuple[str, str] | None:
        if job.id in self.rounds.memory(ctx.memory).planned_ids:
            return None
        return ("waiting-for-round", "starts only when a round plan includes it")


def max_min_allocation(
    jobs: list[Job], types: list[str], capacity: dict[str, int]
) -> dict[int, dict[str, float]]:
    """Gavel's max-min fairness over normalised effective throughput, as two LPs."""
    n, m = len(jobs), len(types)
    if n == 0:
        return {}
    # Relative speed per type (the speed model): Gavel's steps/s up to a per-job constant,
    # which the normalisation by the equal-share rate cancels.
    rate = np.array([[relative_speed(job, t) for t in types] for job in jobs])
    scale = np.array([float(job.workers) for job in jobs])
    counts = np.array([float(capacity[t]) for t in types])
    share = counts / n
    share = share / max(1.0, share.sum())  # Gavel's proportional split, rows summing to <= 1
    equal_rate = rate @ share
    coef = rate * scale[:, None] / np.where(equal_rate > 0, equal_rate, 1.0)[:, None]
    nx = n * m
    rows, cols, vals = [], [], []
    # -t + ... : for job i, t - sum_k coef[i,k] x[i,k] <= 0
    for i in range(n):
        rows += [i] * (m + 1)
        cols += [*range(i * m, i * m + m), nx]
        vals += [*(-coef[i]), 1.0]
    for i in range(n):  # sum_k x[i,k] <= 1
        rows += [n + i] * m
        cols += list(range(i * m, i * m + m))
        vals += [1.0] * m
    for k in range(m):  # sum_i scale[i] x[i,k] <= capacity[k]
        rows += [2 * n + k] * n
        cols += [i * m + k for i in range(n)]
        vals += list(scale)
    a_ub = coo_matrix((vals, (rows, cols)), shape=(2 * n + m, nx + 1)).tocsr()
    b_ub = np.concatenate([np.zeros(n), np.ones(n), counts])
    bounds: list[tuple[float, float | None]] = [
        (0.0, 1.0 if rate[i // m, i % m] > 0 else 0.0) for i in range(nx)
    ]
    bounds.append((0.0, None))
    first = linprog(
        np.concatenate([np.zeros(nx), [-1.0]]), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs"
    )
    if first.status != 0:
        return {job.id: dict.fromkeys(types, 0.0) for job in jobs}
    best_min = float(first.x[-1])
    # Second LP: keep the max-min value, then use what is left for total effective throughput.
    bounds[-1] = (best_min * (1 - 1e-7), None)
    second = linprog(
        np.concatenate([-coef.ravel(), [0.0]]), A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs"
    )
    x = (second.x if second.status == 0 else first.x)[:nx].reshape(n, m).clip(0.0, 1.0)
    return {job.id: {t: float(x[i, k]) for k, t in enumerate(types)} for i, job in enumerate(jobs)}
