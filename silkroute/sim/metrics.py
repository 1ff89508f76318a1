"""What a simulation measures, accumulated as events happen and summarised at the end."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from silkroute.sim.truth import SimJob


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


def job_metrics(jobs: list[SimJob]) -> dict[str, float]:
    done = [j for j in jobs if j.end_time is not None]
    if not done:
        return {"jobs_completed": 0}
    jct = np.array([j.end_time - j.submit_time for j in done])  # type: ignore[operator]
    wait = np.array([(j.first_start_time or j.submit_time) - j.submit_time for j in done])
    first_submit = min(j.submit_time for j in jobs)
    makespan = max(j.end_time for j in done) - first_submit  # type: ignore[type-var, operator]
    slowdowns_by_tenant: dict[str, list[float]] = {}
    for j, t in zip(done, jct, strict=True):
        isolated = j.run_seconds(j.ran_on)
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


def heterogeneity_metrics(jobs: list[SimJob], capacity_by_type: dict[str, int]) -> dict[str, float]:
    """Per-type-speed metrics: slowdown vs the fastest isolated run, finish-time fairness, use.

    - slowdown: JCT / the job's run time alone on its fastest type in the cluster.
    - rho (finish-time fairness, Themis; Gavel's `finish_time_fairness`): JCT / the run time
      the job would have with an equal 1/n slice of every type, n the time-averaged number of
      jobs in the system during its life. A slice of N_k/n accelerators of type k lets a job
      of g accelerators run (N_k/n)/g of the time there (at most 1 in all). rho <= 1: the job
      did at least as well as under an even split.
    - utilisation: accelerator-seconds held by jobs / (accelerators x makespan).
    """
    done = [j for j in jobs if j.end_time is not None and j.end_time > j.submit_time]
    total = sum(capacity_by_type.values())
    if not done or not total:
        return {}
    types = [t for t, n in capacity_by_type.items() if n > 0]
    submit = np.array([j.submit_time for j in done])
    end = np.array([j.end_time for j in done], dtype=float)
    jct = end - submit
    # Time-averaged jobs in the system over each job's life, from the area under N(t).
    times = np.concatenate([submit, end])
    steps = np.concatenate([np.ones(len(done)), -np.ones(len(done))])
    order = np.argsort(times, kind="stable")
    times, steps = times[order], steps[order]
    level = np.cumsum(steps)
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    lived = np.interp(end, times, area) - np.interp(submit, times, area)
    in_system = np.maximum(1.0, lived / jct)
    counts = np.array([float(capacity_by_type[t]) for t in types])
    slowdown, rho = [], []
    for j, life, n in zip(done, jct, in_system, strict=True):
        seconds = np.array([j.run_seconds(t) for t in types])
        finite = np.isfinite(seconds) & (seconds > 0)
        if not finite.any():
            continue
        slowdown.append(life / seconds[finite].min())
        share = np.where(finite, counts / (n * max(j.gpus, 1e-9)), 0.0)
        share = share / max(1.0, share.sum())
        rate = float((share[finite] / seconds[finite]).sum())
        rho.append(life * rate)
    busy = 0.0
    for j in done:
        last = (j.end_time - j.start_time) if j.start_time is not None else 0.0  # type: ignore[operator]
        busy += j.attained_gpu_s + max(0.0, last) * j.gpus
    makespan = float(end.max() - min(job.submit_time for job in jobs))
    out = {"utilisation": busy / (total * makespan) if makespan > 0 else 0.0}
    if slowdown:
        out |= {
            "mean_slowdown": float(np.mean(slowdown)),
            "median_slowdown": float(np.median(slowdown)),
            "p95_slowdown": float(np.percentile(slowdown, 95)),
            "rho_mean": float(np.mean(rho)),
            "rho_p95": float(np.percentile(rho, 95)),
            "rho_max": float(np.max(rho)),
        }
    return out
