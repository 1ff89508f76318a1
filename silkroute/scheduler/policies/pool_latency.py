"""Inference replicas: prefer the site closest to the job's user regions.

A site whose latency breaks the SLO of a region is scored far behind; the filter
`LatencySloFilter` in the same spirit rejects it outright when every region is broken.
"""

from __future__ import annotations

from silkroute.scheduler.job import Job
from silkroute.scheduler.placement import PoolScorer
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState

UNKNOWN_LATENCY_MS = 1_000.0


class LatencyScorer(PoolScorer):
    name = "latency"

    def score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        if not job.latency_slo_ms:
            return 0.0
        latency = sites.get(state.pools[pool].site_name).latency_ms
        total = 0.0
        for region, slo in job.latency_slo_ms.items():
            ms = latency.get(region, UNKNOWN_LATENCY_MS)
            total += ms / slo + (10.0 if ms > slo else 0.0)
        return total / len(job.latency_slo_ms)
