"""One run of the experiment: a policy, a seed, pods in arrival order through the real placement.

Each pod is a one-worker `Job` placed by `PlacementPolicy.place` on the shared `ClusterState`
(the scheduler's own capacity bookkeeping: `apply` raises on over-allocation). A pod that fits
nowhere fails and is dropped. After every pod we record the arrived workload, the allocated GPU
and FGD's fragmentation, then read them off at whole arrived percentages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from silkroute.model.job import JobKind
from silkroute.scheduler.fragmentation import FragCache, TargetWorkload
from silkroute.scheduler.job import Job
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.sim.openb import Pod
from silkroute.sim.packing.policies import packing_policy
from silkroute.sim.packing.workload import inflate_pods

FloatArray = npt.NDArray[np.float64]
METRICS = (
    "allocated_pct",
    "unallocated_pct",
    "fragmentation_pct",
    "fragmentation_idle_pct",
    "floor_pct",
)


@dataclass(frozen=True, slots=True)
class RunResult:
    policy: str
    seed: int
    levels: tuple[int, ...]  # arrived workload, % of GPU capacity
    metrics: dict[str, list[float]]  # metric -> value at each level
    pods: int
    failed: int
    wall_s: float


def pod_job(index: int, pod: Pod) -> Job:
    return Job(
        id=index,
        name=pod.name,
        tenant="openb",
        kind=JobKind.BATCH,
        workers=1,
        demand=pod.demand,
        accelerator_types=pod.gpu_spec,
        speed=None,
        priority=0,
        preemptible=False,
        checkpoint_interval_s=None,
        time_limit_s=None,
        submit_time=0.0,
    )


def run_packing(
    nodes: Sequence[NodeInfo],
    pods: Sequence[Pod],
    policy: str,
    seed: int,
    inflate: float,
    target: TargetWorkload,
) -> RunResult:
    start = time.perf_counter()
    state = ClusterState(nodes)
    placement = packing_policy(policy, target, seed)
    workload = inflate_pods(pods, state.capacity_milli, inflate, seed)
    frag = FragCache(state, target)
    sites = SiteCatalog([])
    pools: dict[tuple[bool, tuple[str, ...] | None], list[int]] = {}
    capacity = state.capacity_milli
    n = len(workload)
    arrived = np.zeros(n + 1)
    allocated = np.zeros(n + 1)
    fragmented = np.zeros(n + 1)
    fragmented[0] = frag.total()
    requested, failed = 0, 0
    for i, pod in enumerate(workload, start=1):
        key = (pod.num_gpu > 0, pod.gpu_spec)
        if key not in pools:
            pools[key] = state.pools_for(pod.gpu_spec, None, needs_accelerator=key[0])
        alloc = placement.place(pod_job(i, pod), state, sites, pools[key])
        if alloc is None:
            failed += 1
        else:
            state.apply(alloc)
            placement.placed(state, alloc)
        requested += pod.gpu_request_milli
        arrived[i] = requested
        allocated[i] = state.allocated_milli
        fragmented[i] = frag.total()
    levels = tuple(range(int(np.floor(inflate * 100 + 1e-9)) + 1))
    # The state when the arrived workload reached each level: the last pod at or below it.
    at = np.searchsorted(arrived * 100, np.array(levels) * capacity, side="right") - 1
    alloc_pct = allocated[at] * 100 / capacity
    idle = np.maximum(capacity - allocated[at], 1)
    metrics = {
        "allocated_pct": alloc_pct,
        "unallocated_pct": 100 - alloc_pct,
        "fragmentation_pct": fragmented[at] * 100 / capacity,
        "fragmentation_idle_pct": fragmented[at] * 100 / idle,
        # The GPUs not yet arrived (0 once more than the capacity has arrived): no placement
        # leaves fewer unallocated at that level; a policy that drops no GPU pod sits on it.
        "floor_pct": np.maximum(100 - arrived[at] * 100 / capacity, 0),
    }
    return RunResult(
        policy=policy,
        seed=seed,
        levels=levels,
        metrics={k: [round(float(x), 6) for x in v] for k, v in metrics.items()},
        pods=n,
        failed=failed,
        wall_s=time.perf_counter() - start,
    )
