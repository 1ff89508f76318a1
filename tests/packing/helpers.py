"""Tiny clusters and demands shared by the packing tests."""

from __future__ import annotations

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
