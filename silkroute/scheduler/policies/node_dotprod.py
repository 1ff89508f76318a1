"""Dot-product (Tetris-style, FGD's baseline): the node whose free resources align least with
the demand, i.e. the smallest dot product of (CPU, GPU) demand and free vectors.

Both vectors are normalised by the node's capacity. For a GPU-sharing worker the GPU dimension
is the accelerator it would share, so the tightest accelerator that fits wins on each node.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class DotProductScorer(NodeScorer):
    name = "dotprod"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        cpu_cap = np.maximum(state.cpu_cap[nodes], 1)
        cpu = (demand.cpu_milli / cpu_cap) * (state.cpu_free[nodes] / cpu_cap)
        if demand.gpu_slots == 0:
            return np.asarray(cpu, dtype=np.float64)
        free = state.gpu_free[nodes]
        if demand.gpu_milli < MILLI:
            # Per accelerator: the tightest one that fits (others are +inf).
            fitting = np.where(free >= demand.gpu_milli, free, np.iinfo(np.int64).max)
            gpu = (demand.gpu_milli / MILLI) * (fitting.min(axis=1) / MILLI)
        else:
            cap = np.maximum(state.gpu_cap[nodes].sum(axis=1), 1)
            gpu = (demand.gpu_slots * MILLI / cap) * (free.sum(axis=1) / cap)
        return np.asarray(cpu + gpu, dtype=np.float64)
