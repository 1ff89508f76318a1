"""Tiresias-style discretised two-dimensional least-attained-service (2D-LAS).

Attained service is GPUs x seconds run so far, so it needs no duration estimates. Jobs sit
in a few queues by attained service (thresholds in GPU-seconds); a lower queue goes first,
first come, first served inside a queue, which avoids LAS's constant reshuffling.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import QueueOrder

DEFAULT_THRESHOLDS_GPU_S = (3_600.0, 36_000.0, 360_000.0)


class LasOrder(QueueOrder):
    name = "las"

    def __init__(self, thresholds_gpu_s: Sequence[float] = DEFAULT_THRESHOLDS_GPU_S) -> None:
        self.thresholds = sorted(thresholds_gpu_s)

    def queue_of(self, attained_gpu_s: float) -> int:
        return bisect.bisect_right(self.thresholds, attained_gpu_s)

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        return (self.queue_of(job.attained_gpu_s), job.submit_time, job.id)
