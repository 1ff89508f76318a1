"""A job may evict preemptible jobs of a strictly lower priority class."""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PreemptionPolicy


class PriorityPreemption(PreemptionPolicy):
    name = "priority"

    def may_preempt(self, pending: Job, running: Job, ctx: Context) -> bool:
        return running.preemptible and running.priority < pending.priority
