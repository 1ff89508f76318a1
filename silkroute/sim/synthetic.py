"""Synthetic workloads: Poisson arrivals, heavy-tailed run times, gangs of 1..64 workers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silkroute.model.job import PRIORITY_CLASSES, JobKind
from silkroute.model.workload import MILLI, Demand
from silkroute.sim.truth import SimJob

GANG_SIZES = np.array([1, 2, 4, 8, 16, 32, 64])
GANG_WEIGHTS = np.array([0.55, 0.15, 0.12, 0.09, 0.05, 0.03, 0.01])
GPUS_PER_WORKER = np.array([0.25, 0.5, 1, 2, 4, 8])
GPU_WEIGHTS = np.array([0.08, 0.07, 0.45, 0.1, 0.1, 0.2])
PRIORITIES = np.array(
    [PRIORITY_CLASSES[c] for c in ("best-effort", "normal", "high")], dtype=np.int64
)
PRIORITY_WEIGHTS = np.array([0.3, 0.55, 0.15])


@dataclass(frozen=True)
class WorkloadShape:
    jobs: int = 10_000
    tenants: int = 10
    # Log-normal run times: median ~20 min, a heavy tail of multi-day jobs.
    median_runtime_s: float = 1_200.0
    runtime_sigma: float = 1.6
    max_runtime_s: float = 3 * 86_400.0
    accelerator_types: tuple[str, ...] | None = None
    checkpoint_interval_s: float = 1_800.0


def mean_gpu_seconds(shape: WorkloadShape) -> float:
    gang = float((GANG_SIZES * GANG_WEIGHTS).sum() / GANG_WEIGHTS.sum())
    per_worker = float((GPUS_PER_WORKER * GPU_WEIGHTS).sum() / GPU_WEIGHTS.sum())
    runtime = shape.median_runtime_s * float(np.exp(shape.runtime_sigma**2 / 2))
    return gang * per_worker * runtime


def generate(shape: WorkloadShape, capacity_gpus: float, load: float, seed: int) -> list[SimJob]:
    """Jobs whose offered load is `load` times `capacity_gpus` (before the run-time cap)."""
    rng = np.random.default_rng(seed)
    n = shape.jobs
    rate = load * capacity_gpus / mean_gpu_seconds(shape)  # jobs per second
    submit = np.cumsum(rng.exponential(1.0 / rate, size=n))
    gangs = rng.choice(GANG_SIZES, size=n, p=GANG_WEIGHTS / GANG_WEIGHTS.sum())
    per_worker = rng.choice(GPUS_PER_WORKER, size=n, p=GPU_WEIGHTS / GPU_WEIGHTS.sum())
    # Shared devices only for single workers, as in production sharing (inference, notebooks).
    per_worker = np.where((per_worker < 1) & (gangs > 1), 1.0, per_worker)
    runtime = np.minimum(
        rng.lognormal(np.log(shape.median_runtime_s), shape.runtime_sigma, size=n),
        shape.max_runtime_s,
    )
    runtime = np.maximum(runtime, 1.0)
    tenant_of = rng.zipf(1.6, size=n) % shape.tenants
    priority = rng.choice(PRIORITIES, size=n, p=PRIORITY_WEIGHTS)
    types = shape.accelerator_types
    jobs = []
    for i in range(n):
        share = float(per_worker[i])
        slots, milli = (1, round(share * MILLI)) if share < 1 else (int(share), MILLI)
        best_effort = int(priority[i]) == PRIORITY_CLASSES["best-effort"]
        jobs.append(
            SimJob(
                id=i,
                name=f"job-{i:07d}",
                tenant=f"tenant-{int(tenant_of[i])}",
                kind=JobKind.INFERENCE if share < 1 else JobKind.TRAIN,
                workers=int(gangs[i]),
                demand=Demand(slots, milli, 4_000 * slots, 32_768 * slots),
                accelerator_types=types,
                speed=None,
                priority=int(priority[i]),
                preemptible=best_effort,
                checkpoint_interval_s=shape.checkpoint_interval_s if best_effort else None,
                time_limit_s=None,
                submit_time=float(submit[i]),
                duration_s={"*": float(runtime[i])},
            )
        )
    return jobs
