"""Put a run under backlog: compress arrivals, split or shrink the cluster."""

from __future__ import annotations

import dataclasses
import math

from silkroute.scheduler.state import NodeInfo
from silkroute.sim.truth import SimJob


def compress_arrivals(jobs: list[SimJob], load: float) -> list[SimJob]:
    """Arrivals `load` times as dense: load 2 halves every gap between submissions."""
    if not (math.isfinite(load) and load > 0):  # NaN compares false: `load <= 0` let it by
        raise ValueError(f"--load: must be a finite number > 0 (got {load:g})")
    if load == 1:
        return jobs
    start = min((j.submit_time for j in jobs), default=0.0)
    return [
        dataclasses.replace(j, submit_time=start + (j.submit_time - start) / load) for j in jobs
    ]


def split_sites(nodes: list[NodeInfo], sites: int, prefix: str = "site") -> list[NodeInfo]:
    """Deal nodes round-robin into `sites` sites, so each keeps the mix of types."""
    if sites < 1:
        raise ValueError(f"--sites: must be >= 1 (got {sites})")
    if sites == 1:
        return nodes
    return [dataclasses.replace(n, site=f"{prefix}-{i % sites}") for i, n in enumerate(nodes)]


def shrink(nodes: list[NodeInfo], fraction: float) -> list[NodeInfo]:
    """Keep every k-th node so that about `fraction` of the cluster remains."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--shrink: must be in (0, 1] (got {fraction:g})")
    step = 1 / fraction
    keep = {int(i * step) for i in range(max(1, round(len(nodes) * fraction)))}
    return [n for i, n in enumerate(nodes) if i in keep]


def estimate_factor(estimate: str) -> float | None:
    """The factor on run times that `--estimates` asks for: `exact` 1, `none` None, `xF` F."""
    if estimate in ("exact", "none"):
        return 1.0 if estimate == "exact" else None
    try:
        factor = float(estimate.removeprefix("x"))
    except ValueError:
        factor = math.nan
    # A limit of 0, a negative or NaN one would let backfill plan with nonsense (NaN crashed it).
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(
            f"--estimates: expected exact, none or xF with F a finite number > 0 (got {estimate!r})"
        )
    return factor


def with_time_limits(jobs: list[SimJob], estimate: str) -> list[SimJob]:
    """Give jobs time limits for EASY backfill: `exact` run times, `none`, or `xF` (F times)."""
    factor = estimate_factor(estimate)
    if factor is None:
        return jobs
    out = []
    for j in jobs:
        finite = [s for s in (j.duration_s or {}).values()]
        limit = max(finite) * factor if finite else None
        out.append(dataclasses.replace(j, time_limit_s=limit))
    return out
