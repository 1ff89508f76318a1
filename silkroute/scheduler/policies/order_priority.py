"""Higher priority class first; first come, first served within a class."""

from __future__ import annotations

from collections.abc import Hashable

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import QueueOrder


class PriorityOrder(QueueOrder):
    name = "priority"

    def job_key(self, job: Job) -> tuple[Hashable, ...]:
        return (-job.priority, job.submit_time, job.id)
