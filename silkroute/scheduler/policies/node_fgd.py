"""FGD: put the worker where it increases the cluster's GPU fragmentation least.

Fragmentation Gradient Descent (Weng et al., USENIX ATC'23). For every candidate node, and for
a GPU-sharing worker every accelerator it could share, the score is the node's fragmentation
after the placement minus before, against the target workload (`fragmentation.py`). Only one
node changes, so the cluster's fragmentation moves by exactly that delta.

The target workload is given (the experiment derives it from the pod list, as FGD does) or,
when the scorer comes from the registry, learnt from the demands it is asked to place.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import FloatArray, FragCache, Shape, Stats, TargetWorkload
from silkroute.scheduler.placement import NodeScorer, best_fit_slots
from silkroute.scheduler.state import ClusterState, IntArray


class FgdScorer(NodeScorer):
    name = "fgd"

    def __init__(self, target: TargetWorkload | None = None) -> None:
        self.target = target
        self._learnt: Counter[Shape] | None = Counter() if target is None else None
        self._cache: FragCache | None = None

    # ----- target workload and per-state cache ----------------------------------------
    def _observe(self, demand: Demand) -> None:
        if self._learnt is None:
            return
        self._learnt[Shape.of(demand)] += 1
        seen = self._learnt.total()
        # Rebuild at 1, 2, 4 ... 1024 demands, then every 1024: cheap, and stable once known.
        if seen & (seen - 1) == 0 or seen % 1024 == 0:
            self.target = TargetWorkload.from_shapes(self._learnt.elements())
            self._cache = None

    def cache(self, state: ClusterState) -> FragCache:
        assert self.target is not None
        if self._cache is None or self._cache.state is not state:
            self._cache = FragCache(state, self.target)
        self._cache.refresh()
        return self._cache

    # ----- scoring --------------------------------------------------------------------
    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        self._observe(demand)
        return self.deltas(self.cache(state), demand, nodes)

    def deltas(self, cache: FragCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """Change of each node's fragmentation if the worker goes there (its best slot)."""
        target, before = cache.target, cache.frag[nodes]
        if not is_share(demand):
            return cache.stats.take(nodes).after_whole(demand).frag(target) - before
        # Accelerators with equal free thousandths on one node are alike: try each value once.
        values = np.sort(cache.state.gpu_free[nodes], axis=1)
        distinct = np.ones_like(values, dtype=bool)
        distinct[:, 1:] = values[:, 1:] != values[:, :-1]
        rows, cols = np.nonzero(distinct & (values >= demand.gpu_milli))
        after = cache.stats.take(nodes[rows]).after_share(target, values[rows, cols], demand)
        delta = after.frag(target) - before[rows]
        out = np.full(len(nodes), np.inf)
        if len(rows):
            present, starts = np.unique(rows, return_index=True)
            out[present] = np.minimum.reduceat(delta, starts)
        return out

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if not is_share(demand) or self.target is None:
            return best_fit_slots(free_row, demand)
        # Recompute from `free_row` (a gang may have used part of the node already).
        type_ok = self.cache(state).stats.type_ok[[node]]
        stats = Stats.of(self.target, free_row[None, :], state.cpu_free[[node]], type_ok)
        slots = np.flatnonzero(free_row >= demand.gpu_milli)
        one = stats.take(np.zeros(len(slots), dtype=np.int64))
        after = one.after_share(self.target, free_row[slots], demand).frag(self.target)
        # Least fragmentation; then the tightest accelerator (keeps whole ones whole); index.
        return (int(slots[np.lexsort((slots, free_row[slots], after))[0]]),)


def is_share(demand: Demand) -> bool:
    return demand.gpu_slots == 1 and 0 < demand.gpu_milli < MILLI
