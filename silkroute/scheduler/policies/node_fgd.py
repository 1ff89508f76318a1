"""FGD: put the worker where it increases the cluster's GPU fragmentation least.

Fragmentation Gradient Descent (Weng et al., USENIX ATC'23). For every candidate node, and for
a GPU-sharing worker every accelerator it could share, the change of the node's fragmentation
against the target workload (`fragmentation.py`). Only one node changes, so the cluster's
fragmentation moves by exactly that delta.

`fgd` is the rule as the authors' simulator (hkust-adsl/kubernetes-scheduler-simulator) runs it:
the node's score is a whole number, `int(100 * sigmoid((F_before - F_after) / 1000))` with F in
thousandths of a GPU (50 = no change), the highest score wins, and ties go to the first node
in an order fixed for the whole run (their simulator prefixes every node name with its place
in a seeded random permutation and kube-scheduler, as they vendor it, takes the smallest name
among equal scores). Inside a node a sharing worker takes the lowest-index accelerator among
those with the best score. The buckets are coarse (about 40 thousandths of a GPU near 50), so
most candidates tie and the fixed order packs them onto the same nodes.

`fgd-exact` minimises the exact delta instead (ties by node index). It spreads pods over idle
nodes and leaves about 1.3 points more GPU unallocated on openb; kept for comparison.

The target workload is given (the experiment derives it from the pod list, as FGD does) or,
when the scorer comes from the registry, learnt from the jobs that arrived in the book, each
counted once (`ArrivalShapes` in `memory.py`: in the book's snapshot, so a rebuilt book scores
against the same target).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import FloatArray, FragCache, Stats, TargetWorkload
from silkroute.scheduler.memory import ArrivalShapes
from silkroute.scheduler.placement import NodeScorer, best_fit_slots
from silkroute.scheduler.state import ClusterState, IntArray

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook

MAX_POINTS = 100  # kube-scheduler's framework.MaxNodeScore


def fgd_points(delta: FloatArray) -> IntArray:
    """FGD's whole-number node score for fragmentation changes `delta` = F_after - F_before.

    `int(100 * sigmoid(-delta / 1000))`: 50 for no change, above 50 when fragmentation falls.
    Deltas are rounded to a millionth of a thousandth first so that float noise in two equal
    sums cannot move a score across a bucket edge."""
    x = -np.round(np.asarray(delta, dtype=np.float64), 6) / MILLI
    with np.errstate(over="ignore"):
        sigmoid = 1.0 / (1.0 + np.exp(-x))
    return np.floor(MAX_POINTS * sigmoid).astype(np.int64)


class FgdExactScorer(NodeScorer):
    """The exact fragmentation delta; lower is better, ties by node index."""

    name = "fgd-exact"
    # What `cache` builds: a subclass may keep more per-node bookkeeping, refreshed with it.
    cache_type: type[FragCache] = FragCache

    def __init__(self, target: TargetWorkload | None = None) -> None:
        self._given = target
        self._arrivals: ArrivalShapes | None = None  # the attached book's, when not given
        self._cache: FragCache | None = None

    # ----- target workload and per-state cache ----------------------------------------
    @property
    def target(self) -> TargetWorkload | None:
        """The given target, else the one learnt from the attached book's arrivals."""
        if self._given is not None or self._arrivals is None:
            return self._given
        return self._arrivals.target()

    def attach(self, book: SchedulerBook) -> None:
        self._arrivals = book.arrivals

    def cache(self, state: ClusterState) -> FragCache:
        target = self.target
        if target is None:
            raise ValueError(f"{self.name}: no target workload (give one, or place jobs of a book)")
        cache = self._cache
        if cache is None or cache.state is not state or cache.target is not target:
            cache = self._cache = self.cache_type(state, target)
        cache.refresh()
        return cache

    # ----- scoring --------------------------------------------------------------------
    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        return self.deltas(self.cache(state), demand, nodes)

    def deltas(self, cache: FragCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """Change of each node's fragmentation if the worker goes there (its best slot)."""
        target, before = cache.target, cache.frag[nodes]
        if not is_share(demand):
            return cache.stats.take(nodes).after_whole(demand).frag(target) - before
        values, rows, cols = distinct_fits(cache.state.gpu_free[nodes], demand)
        after = cache.stats.take(nodes[rows]).after_share(target, values[rows, cols], demand)
        return per_node_min(len(nodes), rows, after.frag(target) - before[rows])

    def slot_deltas(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[IntArray, FloatArray]:
        """(accelerators a sharing worker fits on, fragmentation change for each)."""
        cache = self.cache(state)
        target = cache.target
        return slot_frag_deltas(cache, node, free_row, demand, lambda stats, _: stats.frag(target))

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if not is_share(demand) or self.target is None:
            return best_fit_slots(free_row, demand)
        slots, delta = self.slot_deltas(state, node, free_row, demand)
        # Least fragmentation; then the tightest accelerator (keeps whole ones whole); index.
        return (int(slots[np.lexsort((slots, free_row[slots], delta))[0]]),)


class FgdScorer(FgdExactScorer):
    """FGD as its authors' simulator runs it: whole-number scores, a fixed node order."""

    name = "fgd"

    def __init__(self, target: TargetWorkload | None = None, order_seed: int | None = None) -> None:
        super().__init__(target)
        self.order_seed = order_seed
        self._rank: IntArray | None = None

    def node_rank(self, state: ClusterState) -> IntArray:
        """Each node's place in the run's tie-break order (0 first): a permutation drawn once
        from `order_seed`, or the node index when there is no seed."""
        count = len(state.node_names)
        if self._rank is None or len(self._rank) != count:
            if self.order_seed is None:
                self._rank = np.arange(count, dtype=np.int64)
            else:
                rng = np.random.default_rng(self.order_seed)
                self._rank = rng.permutation(count).astype(np.int64)
        return self._rank

    def points(self, state: ClusterState, demand: Demand, nodes: IntArray) -> IntArray:
        """FGD's whole-number score of every candidate node (higher is better)."""
        return fgd_points(self.deltas(self.cache(state), demand, nodes))

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        rank = self.node_rank(state)
        # Lower wins: the highest points first, then the node order (exact in a float).
        return np.asarray(-self.points(state, demand, nodes) * len(rank) + rank[nodes], np.float64)

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if not is_share(demand) or self.target is None:
            return best_fit_slots(free_row, demand)
        slots, delta = self.slot_deltas(state, node, free_row, demand)
        points = fgd_points(delta)
        # The lowest-index accelerator among those with the best score.
        return (int(slots[np.flatnonzero(points == points.max())[0]]),)


def is_share(demand: Demand) -> bool:
    return demand.gpu_slots == 1 and 0 < demand.gpu_milli < MILLI


def distinct_fits(gpu_free: IntArray, demand: Demand) -> tuple[IntArray, IntArray, IntArray]:
    """Each node's accelerators sorted, and (rows, cols) of the distinct free amounts a
    sharing worker fits on: accelerators with equal free thousandths on one node are alike,
    so each value is tried once. `rows` ascend (np.nonzero is row-major)."""
    values = np.sort(gpu_free, axis=1)
    distinct = np.ones_like(values, dtype=bool)
    distinct[:, 1:] = values[:, 1:] != values[:, :-1]
    rows, cols = np.nonzero(distinct & (values >= demand.gpu_milli))
    return values, rows, cols


def per_node_min(n_nodes: int, rows: IntArray, values: FloatArray) -> FloatArray:
    """The least of `values` per node (`rows`: ascending node positions); inf where none."""
    out = np.full(n_nodes, np.inf)
    if len(rows):
        present, starts = np.unique(rows, return_index=True)
        out[present] = np.minimum.reduceat(values, starts)
    return out


def slot_frag_deltas(
    cache: FragCache,
    node: int,
    free_row: IntArray,
    demand: Demand,
    measure: Callable[[Stats, IntArray], FloatArray],
) -> tuple[IntArray, FloatArray]:
    """(accelerators of `node` a sharing worker fits on, the change of `measure` for each).

    `measure(stats, mem_free)` is a fragmentation of nodes with these counts and free memory
    (FGD's ignores the memory). Recomputed from `free_row`: a gang may have used part of the
    node already."""
    state, target = cache.state, cache.target
    type_ok = cache.stats.type_ok[[node]]
    stats = Stats.of(target, free_row[None, :], state.cpu_free[[node]], type_ok)
    mem = state.mem_free[[node]]
    before = float(measure(stats, mem)[0])
    slots = np.flatnonzero(free_row >= demand.gpu_milli)
    one = stats.take(np.zeros(len(slots), dtype=np.int64))
    after = one.after_share(target, free_row[slots], demand)
    return slots, measure(after, np.full(len(slots), mem[0] - demand.mem_mib)) - before
