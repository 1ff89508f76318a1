"""GPU packing (FGD's baseline): fill shared accelerators first, then partly used nodes, then
idle nodes, in three tiers (lower is better):

0. a GPU-sharing worker that fits on an accelerator already in use: the fuller, the better;
1. it needs whole-free accelerators, on a node already in use: the fewer, the better;
2. the node is idle: smaller nodes first (keeps big nodes whole for big gangs).
CPU-only workers do not care (all nodes tie).
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class GpuPackingScorer(NodeScorer):
    name = "gpupacking"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        if demand.gpu_slots == 0:
            return np.zeros(len(nodes))
        free, count = state.gpu_free[nodes], state.gpu_count[nodes]
        whole = (free == MILLI).sum(axis=1)
        idle = whole == count
        # Tier 1: whole accelerators on a used node.
        score = np.full(len(nodes), 1.0 + demand.gpu_slots / 100.0)
        if demand.gpu_milli < MILLI:
            # Tightest accelerator that fits; a partly used one puts the node in tier 0.
            fitting = np.where(free >= demand.gpu_milli, free, MILLI + 1)
            tightest = fitting.min(axis=1)
            score = np.where(tightest < MILLI, tightest / (MILLI + 1), score)
        return np.where(idle, 2.0 + count / 100.0, score).astype(np.float64)
