"""GPU clustering (FGD's baseline): keep workers of the same GPU share together.

A node's tags are the per-GPU shares of the workers this scorer placed on it (forgotten when the
node is idle again). Tiers, lower is better: only this worker's tag; this tag among others; an
idle node; other tags only. Inside a tier the node with less idle GPU wins. CPU-only workers do
not care (all nodes tie).
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer, best_fit_slots
from silkroute.scheduler.state import ClusterState, IntArray


class GpuClusteringScorer(NodeScorer):
    name = "gpuclustering"

    def __init__(self) -> None:
        self._state: ClusterState | None = None
        self._tags: dict[int, set[int]] = {}

    def _tags_of(self, state: ClusterState, node: int) -> set[int]:
        if self._state is not state:
            self._state, self._tags = state, {}
        tags = self._tags.setdefault(node, set())
        if tags and (state.gpu_free[node] == state.gpu_cap[node]).all():
            tags.clear()  # everything left the node: its history no longer matters
        return tags

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        if demand.gpu_slots == 0:
            return np.zeros(len(nodes))
        tag = demand.gpu_milli
        tiers = np.empty(len(nodes))
        for i, node in enumerate(nodes):
            tags = self._tags_of(state, int(node))
            if tag in tags:
                tiers[i] = 0 if len(tags) == 1 else 1
            else:
                tiers[i] = 2 if not tags else 3
        idle = state.gpu_free[nodes].sum(axis=1) / max(int(state.gpu_cap.sum(axis=1).max()), 1)
        return np.asarray(tiers + idle * 0.5, dtype=np.float64)

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if demand.gpu_slots:
            self._tags_of(state, node).add(demand.gpu_milli)
        return best_fit_slots(free_row, demand)
