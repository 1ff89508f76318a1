"""Inference: a site that breaks the latency SLO of every user region is not a candidate."""

from __future__ import annotations

from collections.abc import Mapping

from silkroute.scheduler.decisions import Severity
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import Context, PoolFilter
from silkroute.scheduler.policies.pool_latency import UNKNOWN_LATENCY_MS


class LatencySloFilter(PoolFilter):
    name = "latency-slo"
    severity = Severity.DENY  # a site's distance does not change by waiting

    def applies(self, job: Job, ctx: Context) -> bool:
        return bool(job.latency_slo_ms)

    def check(self, job: Job, pool: int, ctx: Context) -> tuple[str, str] | None:
        if not job.latency_slo_ms:
            return None
        site = ctx.cluster.pools[pool].site_name
        latency = ctx.sites.get(site).latency_ms
        if within_slo(latency, job.latency_slo_ms):
            return None
        return ("latency-slo", f"site {site} is too far from every user region of the SLO")


def within_slo(latency_ms: Mapping[str, float], slo_ms: Mapping[str, float]) -> bool:
    """Whether a site `latency_ms` away from each region meets the SLO of at least one of the
    regions (a region the site gives no latency for is UNKNOWN_LATENCY_MS away)."""
    return any(latency_ms.get(r, UNKNOWN_LATENCY_MS) <= ms for r, ms in slo_ms.items())
