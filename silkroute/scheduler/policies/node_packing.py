"""Pack: put the worker where it leaves the least idle capacity behind (best fit).

Filling nodes tightly keeps other nodes whole for big gangs, the classic defence against
fragmentation. Ties go to the node with less free CPU.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class PackingScorer(NodeScorer):
    name = "packing"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        gpu_left = state.node_milli_free[nodes] - demand.gpu_slots * demand.gpu_milli
        cpu_left = state.cpu_free[nodes] - demand.cpu_milli
        cpu_frac = cpu_left / np.maximum(state.cpu_cap[nodes], 1)
        return gpu_left.astype(np.float64) + cpu_frac
