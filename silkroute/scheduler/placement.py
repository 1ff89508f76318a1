"""Gang placement: filter the nodes that can take workers, score them, take the best.

A gang is all-or-nothing inside one pool (one site, one accelerator type). Policies plug in
at two levels: a `PoolScorer` ranks pools (price, speed, data locality, latency) and a
`NodeScorer` ranks nodes inside them (packing, fragmentation).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.job import Job
from silkroute.scheduler.policies.base import NodeScorer, PoolScorer, best_fit_slots
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import Allocation, ClusterState

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# The scorer interfaces live with every other policy interface (policies/base.py).
__all__ = [
    "BoolArray",
    "FloatArray",
    "NodeScorer",
    "PlacementPolicy",
    "PoolScorer",
    "best_fit_slots",
]


@dataclass
class PlacementPolicy:
    node_scorer: NodeScorer
    pool_scorers: Sequence[tuple[PoolScorer, float]] = field(default_factory=list)

    @property
    def _default_slots(self) -> bool:
        return type(self.node_scorer).pick_slots is NodeScorer.pick_slots

    @property
    def name(self) -> str:
        parts = [self.node_scorer.name] + [s.name for s, _ in self.pool_scorers]
        return "+".join(parts)

    def attach(self, book: SchedulerBook) -> None:
        """Called at every step: scorers with memory keep it in this book."""
        self.node_scorer.attach(book)

    def placed(self, state: ClusterState, alloc: Allocation) -> None:
        """A proposed allocation was taken (and applied to `state`)."""
        self.node_scorer.placed(state, alloc)

    def what_if(self) -> AbstractContextManager[object]:
        """Placements inside are hypothetical (a future or imagined cluster): they leave the
        scorers' memory unchanged."""
        return self.node_scorer.what_if()

    def rank_pools(
        self, job: Job, state: ClusterState, sites: SiteCatalog, pools: Sequence[int]
    ) -> list[int]:
        return [p for _, p in self.scored_pools(job, state, sites, pools)]

    def scored_pools(
        self, job: Job, state: ClusterState, sites: SiteCatalog, pools: Sequence[int]
    ) -> list[tuple[float, int]]:
        """(score, pool), best first; equal scores keep pool order."""
        if not self.pool_scorers or len(pools) < 2:
            return [(0.0, p) for p in pools]
        if any(s.depends_on_state for s, _ in self.pool_scorers):
            keyed = [(self._pool_score(job, state, sites, p), p) for p in pools]
        else:
            cache = job.pool_scores
            if cache is None:
                cache = job.pool_scores = {}
            keyed = []
            for p in pools:
                score = cache.get(p)
                if score is None:
                    score = cache[p] = self._pool_score(job, state, sites, p)
                keyed.append((score, p))
        keyed.sort()
        return keyed

    def _pool_score(self, job: Job, state: ClusterState, sites: SiteCatalog, pool: int) -> float:
        return sum(w * s.score(job, state, sites, pool) for s, w in self.pool_scorers)

    def place(
        self,
        job: Job,
        state: ClusterState,
        sites: SiteCatalog,
        pools: Sequence[int],
        avoid: BoolArray | None = None,
    ) -> Allocation | None:
        """Best allocation among `pools` (already filtered for the job), or None.

        `avoid` marks nodes the job must not use (an EASY backfill reservation)."""
        demand, workers = job.demand, job.workers
        open_pools = [p for p in pools if state.pool_may_fit(p, demand, workers)]
        return self.place_exact(job, state, sites, open_pools, avoid)

    def place_exact(
        self,
        job: Job,
        state: ClusterState,
        sites: SiteCatalog,
        pools: Sequence[int],
        avoid: BoolArray | None = None,
    ) -> Allocation | None:
        """Like `place`, without the pool counters (so it also works under `what_if`)."""
        demand, workers = job.demand, job.workers
        if not pools:
            return None
        ranked = self.scored_pools(job, state, sites, pools)
        if workers == 1:
            return self._place_single(state, demand, ranked, avoid)
        for _, pool in ranked:
            alloc = self._place_gang(state, demand, workers, pool, avoid)
            if alloc is not None:
                return alloc
        return None

    def _place_single(
        self,
        state: ClusterState,
        demand: Demand,
        ranked: list[tuple[float, int]],
        avoid: BoolArray | None,
    ) -> Allocation | None:
        # One worker: the best node over all open pools; pool score first, node score second.
        nodes = np.concatenate([state.pools[p].nodes for _, p in ranked])
        rank = np.concatenate([np.full(len(state.pools[p].nodes), score) for score, p in ranked])
        fits = state.worker_capacity(nodes, demand) > 0
        if avoid is not None:
            fits &= ~avoid[nodes]
        if not fits.any():
            return None
        nodes, rank = nodes[fits], rank[fits]
        scores = self.node_scorer.score(state, demand, nodes)
        best = int(np.lexsort((nodes, scores, rank))[0])
        node = int(nodes[best])
        slots = self.node_scorer.pick_slots(state, node, state.gpu_free[node].copy(), demand)
        return Allocation(int(state.pool_of_node[node]), demand, [(node, slots)])

    def _place_gang(
        self,
        state: ClusterState,
        demand: Demand,
        workers: int,
        pool: int,
        avoid: BoolArray | None,
    ) -> Allocation | None:
        nodes = state.pools[pool].nodes
        capacity = state.worker_capacity(nodes, demand)
        fits = capacity > 0
        if avoid is not None:
            fits &= ~avoid[nodes]
        if int(capacity[fits].sum()) < workers:
            return None
        nodes, capacity = nodes[fits], capacity[fits]
        scores = self.node_scorer.score(state, demand, nodes)
        # Fewest nodes first (less traffic between workers), then the scorer's preference.
        order = np.lexsort((nodes, scores, -np.minimum(capacity, workers)))
        placed: list[tuple[int, tuple[int, ...]]] = []
        for i in order:
            node, room = int(nodes[i]), int(capacity[i])
            take = min(room, workers - len(placed))
            if demand.gpu_milli == MILLI and self._default_slots:
                # Whole devices, default choice: the first free ones, in one pass.
                whole = np.flatnonzero(state.gpu_free[node] == MILLI).tolist()
                g = demand.gpu_slots
                placed.extend((node, tuple(whole[i * g : (i + 1) * g])) for i in range(take))
            else:
                row = state.gpu_free[node].copy()
                for _ in range(take):
                    slots = self.node_scorer.pick_slots(state, node, row, demand)
                    for s in slots:
                        row[s] -= demand.gpu_milli
                    placed.append((node, slots))
            if len(placed) == workers:
                return Allocation(pool, demand, placed)
        return None
