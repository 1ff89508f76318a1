"""Best-fit (FGD's baseline): the node with the least CPU and GPU left after the placement.

Each resource's leftover is normalised by the largest node's capacity and the two are weighted
equally, as in FGD's simulator. The accelerator is the tightest one that fits.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class BestFitScorer(NodeScorer):
    name = "bestfit"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        max_cpu = max(int(state.cpu_cap.max()), 1)
        max_gpu = max(int(state.gpu_cap.sum(axis=1).max()), 1)
        cpu_left = state.cpu_free[nodes] - demand.cpu_milli
        gpu_left = state.gpu_free[nodes].sum(axis=1) - demand.gpu_slots * demand.gpu_milli
        return np.asarray(0.5 * cpu_left / max_cpu + 0.5 * gpu_left / max_gpu, dtype=np.float64)
