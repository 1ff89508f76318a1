"""Heterogeneity-aware discretised LAS: Tiresias' 2D-LAS with service counted in fastest-type time.

Tiresias ranks jobs by attained service (GPUs x seconds run) in a few queues. On mixed
accelerators a K80 second is worth far less work than a V100 second, so service here is the
work done, expressed as GPU-seconds on the job's fastest type: `(1 - remaining) x fastest run
time x GPUs`. It needs the per-type speed (as Gavel's policies do), not the job's length in
advance: a real system reads it from steps done x measured steps/s per type.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Sequence

from silkroute.model.workload import Job
from silkroute.scheduler.policies.base import QueueOrder

# Queue limits in fastest-type GPU-hours: short jobs first, then medium, then the long tail.
DEFAULT_THRESHOLDS_GPU_H = (1.0, 10.0)


def best_seconds(job: Job) -> float:
    """The job's run time alone on its fastest known type."""
    durations = job.duration_s or {}
    known = [job.run_seconds(t) for t in durations if t != "*"]
    if "*" in durations:
        known += [job.run_seconds(t) for t in (job.speed or {})] + [durations["*"]]
    return min((s for s in known if math.isfinite(s)), default=math.inf)


def service_gpu_s(job: Job, remaining: float) -> float:
    """Work done so far, in GPU-seconds of the job's fastest type."""
    best = best_seconds(job)
    if not math.isfinite(best):
        return job.attained_gpu_s
    return (1.0 - remaining) * best * job.gpus


class HeteroLasOrder(QueueOrder):
    name = "speed-las"

    def __init__(self, thresholds_gpu_h: Sequence[float] = DEFAULT_THRESHOLDS_GPU_H) -> None:
        self.thresholds = sorted(h * 3600.0 for h in thresholds_gpu_h)

    def queue_of(self, service: float) -> int:
        return bisect.bisect_right(self.thresholds, service)

    def key_at(self, job: Job, remaining: float) -> tuple[int, float, int]:
        return (self.queue_of(service_gpu_s(job, remaining)), job.submit_time, job.id)

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        # A waiting job's `remaining` does not move, so its key is stable while queued.
        return self.key_at(job, job.remaining)
