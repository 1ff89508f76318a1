"""Data locality: prefer sites that already hold the datasets the job reads."""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState


class LocalityScorer(PoolScorer):
    name = "locality"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        if not job.datasets:
            return 0.0
        held = sites.get(state.pools[pool].site_name).datasets
        missing = sum(1 for d in job.datasets if d not in held)
        return missing / len(job.datasets)
