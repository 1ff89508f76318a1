"""The scheduler book's record of one job: request, run state and scratch, flat for speed.

The hot loop reads a job's demand, priority and pools millions of times, so the request's
fields are copied onto one slotted object instead of being reached through the request.
`request()` and `run_state()` give the plain model values back (what a store keeps);
everything below "scheduler scratch" is the book's own memo and is rebuilt from nothing.
A simulator subclasses this to carry what only it knows (how long the job really runs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from silkroute.model.job import JobKind, JobSpec
from silkroute.model.workload import Demand, JobPhase, JobRequest, RunState


@dataclass(slots=True, eq=False)
class Job:
    """Identity is `id`. Request fields must not change once the job is in a book."""

    id: int
    name: str
    tenant: str
    kind: JobKind
    workers: int
    demand: Demand
    accelerator_types: tuple[str, ...] | None  # None: any type
    speed: dict[str, float] | None  # relative throughput per type (the speed model)
    priority: int
    preemptible: bool
    checkpoint_interval_s: float | None
    time_limit_s: float | None
    submit_time: float
    sites: tuple[str, ...] | None = None
    datasets: tuple[str, ...] = ()
    latency_slo_ms: dict[str, float] | None = None
    # Observable run state (see RunState).
    phase: JobPhase = JobPhase.PENDING
    start_time: float | None = None
    first_start_time: float | None = None
    end_time: float | None = None
    running_type: str | None = None
    attained_gpu_s: float = 0.0
    elapsed_s: dict[str, float] | None = None  # wall seconds run per type, None until it runs
    preemptions: int = 0
    start_failures: int = 0
    hold_reason: str | None = None
    # Scheduler scratch: the pools the job may use, their cached scores, and what the world
    # looked like (pool epochs, tenant version) when the job last could not start.
    eligible_pools: list[int] | None = None
    pool_scores: dict[int, float] | None = None
    blocked_key: tuple[int, int, int, int] | None = None
    blocked_log_pos: int = 0
    blocked_avoid: frozenset[int] = frozenset()
    # The tenant's old runs still stopping outside the book when its hold was last told
    # (a hold that counts them is told again when their number changes).
    hold_stopping: int = 0

    @property
    def gpus(self) -> float:
        return self.workers * self.demand.gpus

    def speed_on(self, accel_type: str | None) -> float:
        if self.speed is None or accel_type is None:
            return 1.0
        return self.speed.get(accel_type, 1.0)

    def best_speed(self, types: list[str] | None = None) -> float:
        """The job's speed on its fastest type (among `types` when given)."""
        if not self.speed:
            return 1.0
        values = [v for t, v in self.speed.items() if types is None or t in types]
        return max(values, default=1.0)

    def service_s(self, now: float | None = None) -> float:
        """Work done so far in seconds on the job's fastest type: elapsed time on each type x
        relative speed there (no job length needed). Counts the run in progress at `now`."""
        best = self.best_speed()
        done = 0.0
        for accel, seconds in (self.elapsed_s or {}).items():
            done += seconds * self.speed_on(accel) / best
        if now is not None and self.start_time is not None:
            done += (now - self.start_time) * self.speed_on(self.running_type) / best
        return done

    def expected_end(self) -> float:
        """When the scheduler may count on the job's resources coming back (EASY backfill)."""
        if self.start_time is None or self.time_limit_s is None:
            return math.inf
        return self.start_time + self.time_limit_s

    def request(self) -> JobRequest:
        return JobRequest(
            id=self.id,
            name=self.name,
            tenant=self.tenant,
            kind=self.kind,
            workers=self.workers,
            demand=self.demand,
            accelerator_types=self.accelerator_types,
            speed=dict(self.speed) if self.speed else None,
            priority=self.priority,
            preemptible=self.preemptible,
            checkpoint_interval_s=self.checkpoint_interval_s,
            time_limit_s=self.time_limit_s,
            submit_time=self.submit_time,
            sites=self.sites,
            datasets=self.datasets,
            latency_slo_ms=dict(self.latency_slo_ms) if self.latency_slo_ms else None,
        )

    def run_state(self, placement: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> RunState:
        return RunState(
            phase=self.phase,
            first_start_time=self.first_start_time,
            start_time=self.start_time,
            end_time=self.end_time,
            running_type=self.running_type,
            placement=placement,
            elapsed_s=dict(self.elapsed_s or {}),
            attained_gpu_s=self.attained_gpu_s,
            preemptions=self.preemptions,
            start_failures=self.start_failures,
            hold_reason=self.hold_reason,
        )

    def restore(self, state: RunState) -> None:
        """Take the observable state back (rebuilding a book); placement is the book's job."""
        self.phase = state.phase
        self.first_start_time = state.first_start_time
        self.start_time = state.start_time
        self.end_time = state.end_time
        self.running_type = state.running_type
        self.elapsed_s = dict(state.elapsed_s) or None
        self.attained_gpu_s = state.attained_gpu_s
        self.preemptions = state.preemptions
        self.start_failures = state.start_failures
        self.hold_reason = state.hold_reason

    def add_run(self, now: float) -> float:
        """Fold the run in progress into elapsed and attained service; its wall seconds."""
        if self.start_time is None:
            return 0.0
        elapsed = max(0.0, now - self.start_time)
        accel = self.running_type or "*"
        times = self.elapsed_s
        if times is None:
            times = self.elapsed_s = {}
        times[accel] = times.get(accel, 0.0) + elapsed
        self.attained_gpu_s += elapsed * self.gpus
        return elapsed


def job_fields(request: JobRequest) -> dict[str, object]:
    """The request's fields, as keyword arguments for `Job` or a subclass."""
    return {f.name: getattr(request, f.name) for f in dataclasses.fields(JobRequest)}


def job_from_request(request: JobRequest, state: RunState | None = None) -> Job:
    job = Job(**job_fields(request))  # type: ignore[arg-type]
    if state is not None:
        job.restore(state)
    return job


def job_from_spec(spec: JobSpec, job_id: int, submit_time: float = 0.0) -> Job:
    return job_from_request(JobRequest.from_spec(spec, job_id, submit_time))
