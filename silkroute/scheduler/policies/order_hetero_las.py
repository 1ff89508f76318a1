"""Heterogeneity-aware discretised LAS: Tiresias' 2D-LAS with service counted in fastest-type time.

Tiresias ranks jobs by attained service (GPUs x seconds run) in a few queues. On mixed
accelerators a K80 second is worth far less work than a V100 second, so service here is the
work done, expressed as GPU-seconds on the job's fastest type: elapsed seconds on each type x
the job's relative speed there x GPUs (the speed model; no job length needed).
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import QueueOrder

# Queue limits in fastest-type GPU-hours: short jobs first, then medium, then the long tail.
DEFAULT_THRESHOLDS_GPU_H = (1.0, 10.0)


def service_gpu_s(job: Job, now: float | None = None) -> float:
    """Work done so far, in GPU-seconds of the job's fastest type (counting the run in
    progress at `now`)."""
    return job.service_s(now) * job.gpus


class HeteroLasOrder(QueueOrder):
    name = "speed-las"

    def __init__(self, thresholds_gpu_h: Sequence[float] = DEFAULT_THRESHOLDS_GPU_H) -> None:
        self.thresholds = sorted(h * 3600.0 for h in thresholds_gpu_h)

    def queue_of(self, service: float) -> int:
        return bisect.bisect_right(self.thresholds, service)

    def key_at(self, job: Job, now: float | None) -> tuple[int, float, int]:
        return (self.queue_of(service_gpu_s(job, now)), job.submit_time, job.id)

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        # A waiting job's service does not move, so its key is stable while queued.
        return self.key_at(job, None)
