"""Tiny clusters and demands shared by the packing tests."""

from __future__ import annotations

from silkroute.model.workload import Demand
from silkroute.scheduler.state import Allocation, ClusterState, NodeInfo


def node(name: str, gpus: int, cpu: int = 32_000, accel: str = "T4") -> NodeInfo:
    return NodeInfo(name, "s", accel if gpus else None, gpus, cpu, 1 << 20)


def cluster(*nodes: NodeInfo) -> ClusterState:
    return ClusterState(list(nodes))


def take(state: ClusterState, node_index: int, slot: int, milli: int, cpu: int = 0) -> None:
    """Occupy `milli` of one accelerator (and `cpu`) directly, to set up a hand-made state."""
    demand = Demand(1, milli, cpu, 0)
    state.apply(Allocation(int(state.pool_of_node[node_index]), demand, [(node_index, (slot,))]))
