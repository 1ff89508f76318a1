"""Spread: put the worker on the emptiest node (inference replicas, fault isolation)."""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class SpreadScorer(NodeScorer):
    name = "spread"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        free = state.gpu_free[nodes].sum(axis=1) + state.cpu_free[nodes] / 1e6
        return -free.astype(np.float64)
