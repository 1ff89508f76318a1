"""Discrete-event simulator: replays jobs through the real scheduler, deterministically.

Events at one instant are applied together (completions before arrivals, so freed capacity
is visible), then the scheduler takes one step and its decisions are carried out.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from silkroute.model.workload import JobPhase
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Decision, Preempt, Start
from silkroute.sim.metrics import AllocationMeter, job_metrics
from silkroute.sim.truth import SimJob

FINISH, ARRIVE, WAKE = 0, 1, 2
SAMPLE_LIMIT = 4_000  # points kept for the allocation-over-time plot


@dataclass
class SimResult:
    policy: str
    metrics: dict[str, float]
    times: list[float] = field(default_factory=list)
    allocation: list[float] = field(default_factory=list)
    jct_s: list[float] = field(default_factory=list)


class Simulator:
    def __init__(
        self,
        book: SchedulerBook,
        scheduler: Scheduler,
        jobs: list[SimJob],
        step_interval_s: float = 0.0,
    ) -> None:
        self.book = book
        self.step_interval_s = step_interval_s
        self.scheduler = scheduler
        self.jobs = jobs
        self.events: list[tuple[float, int, int, int, int]] = []
        self._seq = 0
        self._runs: dict[int, int] = {}  # job id -> how many times it started (stale events)
        self.dropped: list[SimJob] = []

    def _push(self, when: float, kind: int, job: SimJob) -> None:
        self._seq += 1
        heapq.heappush(self.events, (when, kind, self._seq, job.id, self._runs.get(job.id, 0)))

    def run(
        self,
        name: str,
        progress: Callable[[int], None] | None = None,
        observer: Callable[[float, list[Decision]], None] | None = None,
    ) -> SimResult:
        """Replay every job; `observer(now, decisions)` sees each step (tests, tracing)."""
        by_id = {job.id: job for job in self.jobs}
        for job in self.jobs:
            self._push(job.submit_time, ARRIVE, job)
        cluster = self.book.cluster
        meter = AllocationMeter(cluster.capacity_milli)
        sample_every = max(1, (2 * len(self.jobs)) // SAMPLE_LIMIT)
        events = steps = 0
        wakes: set[float] = set()
        next_step = -math.inf
        started_wall = time.perf_counter()
        while self.events:
            self._drop_stale(by_id)
            if not self.events:
                break
            now = self.events[0][0]
            meter.advance(now, cluster.allocated_milli, len(self.book.pending) > 0)
            while self.events and self.events[0][0] == now:
                _, kind, _, job_id, run = heapq.heappop(self.events)
                if kind == WAKE:
                    wakes.discard(now)
                    continue
                job = by_id[job_id]
                if kind == FINISH:
                    if self._stale(job, run):
                        continue
                    self.book.finish(job.id, now)
                    job.remaining = 0.0
                    job.run_started = None
                else:
                    reason = self.scheduler.unsatisfiable(self.book, job)
                    if reason is not None:
                        job.phase = JobPhase.FAILED
                        job.hold_reason = reason
                        self.dropped.append(job)
                        continue
                    self.book.submit(job)
                events += 1
                if progress is not None and events % 10_000 == 0:
                    progress(10_000)
            # Batch scheduling: at most one step per `step_interval_s` (0: at every instant).
            if now < next_step:
                self._wake(wakes, next_step)
                continue
            next_step = now + self.step_interval_s
            decisions = self.scheduler.step(self.book, now)
            if observer is not None:
                observer(now, decisions)
            self.book.commit(decisions, now)
            for decision in decisions:
                if isinstance(decision, Start):
                    accel = cluster.pools[decision.allocation.pool].accelerator
                    self._started(by_id[decision.job_id], now, accel)
                elif isinstance(decision, Preempt):
                    # Its FINISH event is now stale; account the work it keeps.
                    by_id[decision.job_id].stopped(now, decision.checkpoint_now)
            steps += 1
            wake = self.scheduler.next_wakeup(self.book, now)
            if wake is not None and wake > now:
                self._wake(wakes, wake)
            if steps % sample_every == 0:
                meter.sample(now, cluster.allocated_milli)
        wall = time.perf_counter() - started_wall
        metrics = job_metrics(self.jobs)
        metrics.update(
            allocation=meter.allocation,
            allocation_under_backlog=meter.allocation_under_backlog,
            wall_s=wall,
            events=float(events),
            events_per_s=events / wall if wall > 0 else math.inf,
            scheduler_steps=float(steps),
            jobs_dropped=float(len(self.dropped)),
            jobs_unfinished=float(sum(1 for j in self.jobs if j.phase is JobPhase.PENDING)),
        )
        jct = [j.end_time - j.submit_time for j in self.jobs if j.end_time is not None]
        return SimResult(name, metrics, list(meter.times), list(meter.fractions), jct)

    def _stale(self, job: SimJob, run: int) -> bool:
        """A completion scheduled for a run that was preempted since."""
        return run != self._runs.get(job.id) or job.phase is not JobPhase.RUNNING

    def _drop_stale(self, by_id: dict[int, SimJob]) -> None:
        # Stale completions must not move the clock: they would stretch the run's length.
        while self.events:
            _, kind, _, job_id, run = self.events[0]
            if kind != FINISH or not self._stale(by_id[job_id], run):
                return
            heapq.heappop(self.events)

    def _wake(self, wakes: set[float], when: float) -> None:
        if when in wakes:
            return
        wakes.add(when)
        self._seq += 1
        heapq.heappush(self.events, (when, WAKE, self._seq, -1, 0))

    def _started(self, job: SimJob, now: float, accel: str | None) -> None:
        self._runs[job.id] = self._runs.get(job.id, 0) + 1
        seconds = job.started(now, accel)
        if math.isfinite(seconds):
            self._push(now + seconds, FINISH, job)
