"""Random-fit (FGD's baseline): any node that fits, drawn from a seeded generator."""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray


class RandomScorer(NodeScorer):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        # Same seed, same sequence of calls -> same choices: runs are reproducible.
        self._rng = np.random.default_rng(seed)

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        return self._rng.random(len(nodes))
