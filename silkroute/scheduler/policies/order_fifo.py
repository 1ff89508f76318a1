"""First come, first served."""

from __future__ import annotations

from collections.abc import Hashable

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import QueueOrder


class FifoOrder(QueueOrder):
    name = "fifo"

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        return (job.submit_time, job.id)
