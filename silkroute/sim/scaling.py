"""Put a run under backlog: compress arrivals, split or shrink the cluster."""

from __future__ import annotations

import dataclasses

from silkroute.scheduler.state import NodeInfo
from silkroute.sim.truth import SimJob


def compress_arrivals(jobs: list[SimJob], load: float) -> list[SimJob]:
    """Arrivals `load` times as dense: load 2 halves every gap between submissions."""
    if load <= 0:
        raise ValueError("load must be > 0")
    if load == 1:
        return jobs
    start = min((j.submit_time for j in jobs), default=0.0)
    return [
        dataclasses.replace(j, submit_time=start + (j.submit_time - start) / load) for j in jobs
    ]


def split_sites(nodes: list[NodeInfo], sites: int, prefix: str = "site") -> list[NodeInfo]:
    """Deal nodes round-robin into `sites` sites, so each keeps the mix of types."""
    if sites < 1:
        raise ValueError("sites must be >= 1")
    if sites == 1:
        return nodes
    return [dataclasses.replace(n, site=f"{prefix}-{i % sites}") for i, n in enumerate(nodes)]


def shrink(nodes: list[NodeInfo], fraction: float) -> list[NodeInfo]:
    """Keep every k-th node so that about `fraction` of the cluster remains."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    step = 1 / fraction
    keep = {int(i * step) for i in range(max(1, round(len(nodes) * fraction)))}
    return [n for i, n in enumerate(nodes) if i in keep]


def with_time_limits(jobs: list[SimJob], estimate: str) -> list[SimJob]:
    """Give jobs time limits for EASY backfill: `exact` run times, `none`, or `xF` (F times)."""
    if estimate == "none":
        return jobs
    factor = 1.0 if estimate == "exact" else float(estimate.removeprefix("x"))
    out = []
    for j in jobs:
        finite = [s for s in (j.duration_s or {}).values()]
        limit = max(finite) * factor if finite else None
        out.append(dataclasses.replace(j, time_limit_s=limit))
    return out
