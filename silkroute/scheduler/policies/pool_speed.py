"""Heterogeneity-aware pool scorer: the accelerator type on which the job runs fastest.

Reads the speed model only (the job's relative speed per type, from its spec or a measured
profile), never a run time. Score = the job's best speed among the cluster's types / its
speed on the pool's type: 1.0 on its fastest type, 2.0 where it runs at half speed. With no
speed model every type scores 1.0. One scorer serves what used to be `throughput` (right only
for one run time with speed factors) and `fastest` (right only for per-type run times).
"""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState

UNUSABLE = 1e9  # a type the job's speed model says it cannot use: last


class SpeedScorer(PoolScorer):
    name = "speed"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        accel = state.pools[pool].accelerator
        speeds = job.speed
        if not speeds or accel is None:
            return 1.0
        here = speeds.get(accel, 1.0)
        if here <= 0:
            return UNUSABLE
        best = max((speeds.get(t, 1.0) for t in state.type_names), default=here)
        return best / here
