"""Cheapest work: price per accelerator-hour divided by the job's speed on that type."""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState


class PriceScorer(PoolScorer):
    name = "price"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        info = state.pools[pool]
        if info.accelerator is None:
            return 0.0
        price = sites.get(info.site_name).price_per_accelerator_hour.get(info.accelerator, 0.0)
        return price / job.speed_on(info.accelerator)
