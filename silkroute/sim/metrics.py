"""What a simulation measures, accumulated as events happen and summarised at the end."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from silkroute.model.workload import Job


@dataclass
class AllocationMeter:
    """Time-weighted accelerator allocation, overall and while jobs wait."""

    capacity_milli: int
    last_time: float | None = None
    allocated_area: float = 0.0
    elapsed: float = 0.0
    backlog_area: float = 0.0
    backlog_elapsed: float = 0.0
    times: array = field(default_factory=lambda: array("d"))
    fractions: array = field(default_factory=lambda: array("d"))

    def advance(self, now: float, allocated_milli: int, waiting: bool) -> None:
        """Account the interval since the last call at the state that held during it."""
        if self.last_time is not None and now > self.last_time:
            dt = now - self.last_time
            self.allocated_area += allocated_milli * dt
            self.elapsed += dt
            if waiting:
                self.backlog_area += allocated_milli * dt
                self.backlog_elapsed += dt
        self.last_time = now

    def sample(self, now: float, allocated_milli: int) -> None:
        self.times.append(now)
        self.fractions.append(allocated_milli / self.capacity_milli if self.capacity_milli else 0.0)

    @property
    def allocation(self) -> float:
        if not self.elapsed or not self.capacity_milli:
            return 0.0
        return self.allocated_area / (self.elapsed * self.capacity_milli)

    @property
    def allocation_under_backlog(self) -> float:
        if not self.backlog_elapsed or not self.capacity_milli:
            return 0.0
        return self.backlog_area / (self.backlog_elapsed * self.capacity_milli)


def jain_index(values: list[float]) -> float:
    """Jain's fairness index: 1 when all equal, 1/n when one takes everything."""
    if not values:
        return 1.0
    total = sum(values)
    squares = sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares else 1.0


def job_metrics(jobs: list[Job]) -> dict[str, float]:
    done = [j for j in jobs if j.end_time is not None]
    if not done:
        return {"jobs_completed": 0}
    jct = np.array([j.end_time - j.submit_time for j in done])  # type: ignore[operator]
    wait = np.array([(j.first_start_time or j.submit_time) - j.submit_time for j in done])
    first_submit = min(j.submit_time for j in jobs)
    makespan = max(j.end_time for j in done) - first_submit  # type: ignore[type-var, operator]
    slowdowns_by_tenant: dict[str, list[float]] = {}
    for j, t in zip(done, jct, strict=True):
        isolated = j.run_seconds(j.extra.get("ran_on"))  # type: ignore[arg-type]
        if isolated and np.isfinite(isolated):
            slowdowns_by_tenant.setdefault(j.tenant, []).append(float(t) / isolated)
    tenant_slowdown = [float(np.mean(v)) for v in slowdowns_by_tenant.values()]
    return {
        "jobs_completed": len(done),
        "mean_jct_s": float(jct.mean()),
        "median_jct_s": float(np.median(jct)),
        "p95_jct_s": float(np.percentile(jct, 95)),
        "p99_jct_s": float(np.percentile(jct, 99)),
        "mean_queueing_delay_s": float(wait.mean()),
        "makespan_s": float(makespan),
        "jain_fairness": jain_index(tenant_slowdown),
        "preemptions": float(sum(j.preemptions for j in jobs)),
        "gpu_hours_lost_to_preemption": sum(j.lost_gpu_s for j in jobs) / 3600.0,
    }
