"""Heterogeneity-aware: prefer the accelerator type on which the job runs fastest (Gavel)."""

from __future__ import annotations

import math

from silkroute.model.workload import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState


class ThroughputScorer(PoolScorer):
    name = "throughput"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        accel = state.pools[pool].accelerator
        if job.duration_s and accel is not None:
            seconds = job.run_seconds(accel)
            if math.isfinite(seconds):
                # Known run times (simulator traces): the fastest type wins.
                return seconds / max(job.run_seconds(None), 1e-9)
        return 1.0 / job.speed_on(accel)
