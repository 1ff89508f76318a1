"""A job as the scheduler and its drivers track it: demand, where it runs, how far it got."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum

from silkroute.model.job import JobKind, JobSpec, TraceJobSpec

MILLI = 1000  # accelerator shares are counted in thousandths of one device


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


@dataclass(slots=True, frozen=True)
class Demand:
    """What one worker needs. `gpu_slots` devices, each with `gpu_milli` free thousandths."""

    gpu_slots: int
    gpu_milli: int
    cpu_milli: int
    mem_mib: int

    @property
    def gpus(self) -> float:
        return self.gpu_slots * self.gpu_milli / MILLI

    @staticmethod
    def of(accelerators: float, cpu_cores: float, memory_gib: float) -> Demand:
        if accelerators == 0:
            slots, milli = 0, 0
        elif accelerators < 1:
            slots, milli = 1, round(accelerators * MILLI)
        else:
            slots, milli = int(accelerators), MILLI
        return Demand(slots, milli, round(cpu_cores * 1000), round(memory_gib * 1024))


@dataclass(slots=True, eq=False)
class Job:
    """Mutable runtime record. Identity is `id`; the spec is not kept in the hot path."""

    id: int
    name: str
    tenant: str
    kind: JobKind
    workers: int
    demand: Demand
    accelerator_types: tuple[str, ...] | None  # None: any type
    speed: dict[str, float] | None  # relative throughput per type
    priority: int
    preemptible: bool
    checkpoint_interval_s: float | None
    time_limit_s: float | None
    submit_time: float
    sites: tuple[str, ...] | None = None
    datasets: tuple[str, ...] = ()
    latency_slo_ms: dict[str, float] | None = None
    # Simulator truth: seconds of work on each type (key "*" = any type at speed 1.0).
    duration_s: dict[str, float] | None = None
    # Runtime bookkeeping.
    state: JobState = JobState.PENDING
    remaining: float = 1.0  # fraction of the work still to do
    start_time: float | None = None
    first_start_time: float | None = None
    end_time: float | None = None
    running_type: str | None = None
    attained_gpu_s: float = 0.0
    lost_gpu_s: float = 0.0
    preemptions: int = 0
    hold_reason: str | None = None
    # Scheduler scratch: the pools the job may use, their cached scores, and what the world
    # looked like (pool epochs, tenant version) when the job last could not start.
    eligible_pools: list[int] | None = None
    pool_scores: dict[int, float] | None = None
    blocked_key: tuple[int, int, int, int] | None = None
    blocked_log_pos: int = 0
    blocked_avoid: frozenset[int] = frozenset()
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def gpus(self) -> float:
        return self.workers * self.demand.gpus

    def speed_on(self, accel_type: str | None) -> float:
        if self.speed is None or accel_type is None:
            return 1.0
        return self.speed.get(accel_type, 1.0)

    def run_seconds(self, accel_type: str | None) -> float:
        """Seconds the whole job takes on `accel_type` from scratch (simulator only)."""
        durations = self.duration_s or {}
        if accel_type is not None and accel_type in durations:
            return durations[accel_type]
        if "*" in durations:
            return durations["*"] / self.speed_on(accel_type)
        return math.inf

    def expected_end(self) -> float:
        """When the scheduler may count on the job's resources coming back (EASY backfill)."""
        if self.start_time is None or self.time_limit_s is None:
            return math.inf
        return self.start_time + self.time_limit_s

    def stop(self, now: float, checkpoint_now: bool) -> float:
        """Account a preemption at `now`; returns the GPU-seconds of work lost.

        Work survives up to the last checkpoint (every `checkpoint_interval_s` of run time),
        or all of it when the stop itself checkpoints (time-slicing at a round boundary).
        """
        assert self.start_time is not None
        elapsed = max(0.0, now - self.start_time)
        if checkpoint_now:
            kept = elapsed
        elif self.checkpoint_interval_s:
            kept = math.floor(elapsed / self.checkpoint_interval_s) * self.checkpoint_interval_s
        else:
            kept = 0.0
        full = self.run_seconds(self.running_type)
        if math.isfinite(full) and full > 0:
            self.remaining = max(0.0, self.remaining - kept / full)
        lost = (elapsed - kept) * self.gpus
        self.attained_gpu_s += elapsed * self.gpus
        self.lost_gpu_s += lost
        self.preemptions += 1
        self.state = JobState.PENDING
        self.start_time = None
        self.running_type = None
        return lost


def job_from_spec(
    spec: JobSpec, job_id: int, submit_time: float = 0.0, duration_s: dict[str, float] | None = None
) -> Job:
    types = spec.accelerator_types
    speed = dict(types) if isinstance(types, dict) else None
    return Job(
        id=job_id,
        name=spec.name,
        tenant=spec.tenant,
        kind=spec.kind,
        workers=spec.workers,
        demand=Demand.of(
            spec.accelerators_per_worker, spec.cpu_per_worker, spec.memory_gib_per_worker
        ),
        accelerator_types=tuple(types) if types else None,
        speed=speed,
        priority=spec.priority_value,
        preemptible=spec.preemptible,
        checkpoint_interval_s=spec.checkpoint_interval_s,
        time_limit_s=spec.time_limit_s,
        submit_time=submit_time,
        sites=tuple(spec.sites) if spec.sites else None,
        datasets=tuple(spec.datasets),
        latency_slo_ms=spec.latency_slo_ms,
        duration_s=duration_s,
    )


def job_from_trace(spec: TraceJobSpec, job_id: int) -> Job:
    durations = spec.duration_s
    as_map = dict(durations) if isinstance(durations, dict) else {"*": float(durations)}
    return job_from_spec(spec, job_id, spec.submit_time_s, as_map)


def replicas_of(job: Job, replicas: int, next_id: int) -> list[Job]:
    """An inference job's replicas are independent gangs (each placed on its own, so each
    can go to the site nearest its users); copy k is named `NAME/replica-k`."""
    if replicas <= 1:
        return [job]
    return [
        dataclasses.replace(job, id=next_id + k, name=f"{job.name}/replica-{k}", extra={})
        for k in range(replicas)
    ]
