"""What only a simulator knows about a job: how long it really runs, and how much is left.

`SimJob` is the scheduler's `Job` plus that truth. The scheduler and its policies are typed
against `Job` and never read these fields (tests/scheduler/test_no_true_durations.py runs
every policy on plain `Job`s); the simulator reads them to know when a job finishes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from silkroute.model.job import TraceJobSpec
from silkroute.model.workload import JobRequest
from silkroute.scheduler.job import Job, job_fields

ANY_TYPE = "*"  # key of duration_s when one run time holds on every type (at speed 1.0)


@dataclass(slots=True, eq=False)
class SimJob(Job):
    # Seconds of work on each type (key "*" = any type at speed 1.0).
    duration_s: dict[str, float] | None = None
    remaining: float = 1.0  # fraction of the work still to do
    lost_gpu_s: float = 0.0  # work thrown away by preemptions without a checkpoint
    ran_on: str | None = None  # type of the last run
    run_started: float | None = None  # start of the run in progress

    def run_seconds(self, accel_type: str | None) -> float:
        """Seconds the whole job takes on `accel_type` from scratch."""
        durations = self.duration_s or {}
        if accel_type is not None and accel_type in durations:
            return durations[accel_type]
        if ANY_TYPE in durations:
            return durations[ANY_TYPE] / self.speed_on(accel_type)
        return math.inf

    def started(self, now: float, accel_type: str | None) -> float:
        """A run begins; returns seconds until it finishes if left alone (inf if never)."""
        self.run_started = now
        self.ran_on = accel_type
        return self.remaining * self.run_seconds(accel_type)

    def stopped(self, now: float, checkpoint_now: bool) -> float:
        """Account a preemption at `now`; returns the GPU-seconds of work lost.

        Work survives up to the last checkpoint (every `checkpoint_interval_s` of run time),
        or all of it when the stop itself checkpoints (time-slicing at a round boundary).
        """
        assert self.run_started is not None
        elapsed = max(0.0, now - self.run_started)
        if checkpoint_now:
            kept = elapsed
        elif self.checkpoint_interval_s:
            kept = math.floor(elapsed / self.checkpoint_interval_s) * self.checkpoint_interval_s
        else:
            kept = 0.0
        full = self.run_seconds(self.ran_on)
        if math.isfinite(full) and full > 0:
            self.remaining = max(0.0, self.remaining - kept / full)
        lost = (elapsed - kept) * self.gpus
        self.lost_gpu_s += lost
        self.run_started = None
        return lost

    def fresh(self) -> SimJob:
        """A copy that has not run yet (one per policy run)."""
        request = {f.name: getattr(self, f.name) for f in dataclasses.fields(JobRequest)}
        return SimJob(**request, duration_s=self.duration_s)


def sim_job(request: JobRequest, duration_s: dict[str, float] | None) -> SimJob:
    return SimJob(**job_fields(request), duration_s=duration_s)  # type: ignore[arg-type]


def job_from_trace(spec: TraceJobSpec, job_id: int) -> SimJob:
    durations = spec.duration_s
    as_map = dict(durations) if isinstance(durations, dict) else {ANY_TYPE: float(durations)}
    return sim_job(JobRequest.from_spec(spec, job_id, spec.submit_time_s), as_map)


def replicas_of(job: SimJob, replicas: int, next_id: int) -> list[SimJob]:
    """An inference job's replicas are independent gangs (each placed on its own, so each
    can go to the site nearest its users); copy k is named `NAME/replica-k`."""
    if replicas <= 1:
        return [job]
    return [
        dataclasses.replace(job, id=next_id + k, name=f"{job.name}/replica-{k}")
        for k in range(replicas)
    ]
