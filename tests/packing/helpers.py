"""Tiny clusters and demands shared by the packing tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import NodeScorer, PlacementPolicy
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo
from silkroute.sim.openb import Pod
from silkroute.sim.packing.driver import pod_job


def node(name: str, gpus: int, cpu: int = 32_000, accel: str = "T4") -> NodeInfo:
    return NodeInfo(name, "s", accel if gpus else None, gpus, cpu, 1 << 20)


def cluster(*nodes: NodeInfo) -> ClusterState:
    return ClusterState(list(nodes))


def take(state: ClusterState, node_index: int, slot: int, milli: int, cpu: int = 0) -> None:
    """Occupy `milli` of one accelerator (and `cpu`) directly, to set up a hand-made state."""
    demand = Demand(1, milli, cpu, 0)
    state.apply(Allocation(int(state.pool_of_node[node_index]), demand, [(node_index, (slot,))]))


def chosen_node(scorer: NodeScorer, state: ClusterState, demand: Demand) -> int:
    """The node `scorer` would put a one-worker pod of `demand` on (nothing is placed)."""
    pod = Pod("p", demand.cpu_milli, demand.mem_mib, demand.gpu_slots, demand.gpu_milli,
              None, "BE", None, None, None)  # fmt: skip
    pools = state.pools_for(None, None, needs_accelerator=demand.gpu_slots > 0)
    alloc = PlacementPolicy(scorer, []).place(pod_job(0, pod), state, SiteCatalog([]), pools)
    assert alloc is not None
    return alloc.workers[0][0]


def random_placements(
    scorer: NodeScorer,
    state: ClusterState,
    demands: list[Demand],
    seed: int,
    placed: list[Allocation],
    steps: int = 60,
) -> Iterator[int]:
    """Places pods of `demands` with `scorer` and releases placed ones at random (a release
    30% of the time), keeping `placed` the pods in place and yielding after every step: for
    tests that check a scorer's kept bookkeeping against a recount as pods come and go."""
    placement = PlacementPolicy(scorer, [])
    rng = np.random.default_rng(seed)
    for step in range(steps):
        if placed and rng.random() < 0.3:
            state.release(placed.pop(int(rng.integers(len(placed)))))
        else:
            demand = demands[int(rng.integers(len(demands)))]
            pools = state.pools_for(None, None, needs_accelerator=demand.gpu_slots > 0)
            pod = Pod(f"p{step}", demand.cpu_milli, demand.mem_mib, demand.gpu_slots,
                      demand.gpu_milli, None, "BE", None, None, None)  # fmt: skip
            alloc = placement.place(pod_job(step, pod), state, SiteCatalog([]), pools)
            if alloc is not None:
                state.apply(alloc)
                placement.placed(state, alloc)
                placed.append(alloc)
        yield step
