"""Heterogeneity-aware pool scorer: the type on which the job's known run time is shortest.

Score is the run time on the pool's type over the job's best run time (1.0 = fastest type),
so it works whether the trace gives per-type run times or a `"*"` time with speed factors.
"""

from __future__ import annotations

import math

from silkroute.model.workload import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState


class FastestTypeScorer(PoolScorer):
    name = "fastest"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        accel = state.pools[pool].accelerator
        seconds = job.run_seconds(accel)
        if not math.isfinite(seconds):
            return 1e9  # unknown here: last
        best = min(
            (s for t in state.type_names if math.isfinite(s := job.run_seconds(t))),
            default=seconds,
        )
        return seconds / best if best > 0 else 1.0
