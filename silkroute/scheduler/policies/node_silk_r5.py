"""silk-r5 and silk-r5t: silk (the fourth round's rule) with memory counted.

Issue 15, fifth round; neither was adopted (docs/packing.md, "Fifth round"). On
multi-GPU-heavy lists almost every idle whole GPU left when the cluster first fills sits on
a node with the GPU free but too little *memory* for any pod that wants it (G2 nodes: 8 GPUs,
96 cores, 384 GiB; the common whole-GPU pods ask 11-12 cores and 46-50 GiB each). FGD's
fragmentation and silk's hostable demand count accelerators and CPU only, so neither sees a
pod eat the memory beside a node's last whole GPUs.

Both count memory where FGD and silk count CPU, each target shape's memory being the mean
memory of its tasks (learnt with the target workload: from the pod list in the experiment,
from the arrivals in a live scheduler; a shape of unknown memory is not limited by it):

- `silk-r5`: FGD's fragmentation with memory (`frag_with_memory`), scored as FGD scores, is
  the first key; then silk's keys, its hostable demand limited by memory too. Memory first
  outweighs FGD's protection of the few big nodes some shapes need (docs/packing.md).
- `silk-r5t`: FGD's own score stays first; the score with memory orders its ties (after
  the type pressure, and for non-sharing pods after "nodes in use first").

Nothing is tuned per workload. `memory_frag=False` / `memory_hostable=False` switch a part
off, to measure the other alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import (
    BoolArray,
    FloatArray,
    FragCache,
    Stats,
    TargetWorkload,
)
from silkroute.scheduler.policies.node_fgd import (
    distinct_fits,
    fgd_points,
    is_share,
    per_node_min,
    slot_frag_deltas,
)
from silkroute.scheduler.policies.node_silk import (
    SilkCache,
    SilkScorer,
    best_points_least_loss,
    lexicographic_rank,
)
from silkroute.scheduler.state import ClusterState, IntArray


class SilkR5Scorer(SilkScorer):
    """silk with memory counted in its first key and in the hostable demand."""

    name = "silk-r5"

    def __init__(
        self,
        target: TargetWorkload | None = None,
        order_seed: int | None = None,
        memory_frag: bool = True,
        memory_hostable: bool = True,
    ) -> None:
        super().__init__(target, order_seed)
        # Each part can be switched off, to measure it alone (the fifth round's table).
        self.memory_frag = memory_frag
        self.memory_hostable = memory_hostable

    # ----- memory-aware fragmentation (the first key, when `memory_frag`) ---------------
    def deltas(self, cache: FragCache, demand: Demand, nodes: IntArray) -> FloatArray:
        if not self.memory_frag:
            return super().deltas(cache, demand, nodes)
        return self.memory_deltas(cache, demand, nodes)

    def memory_deltas(self, cache: FragCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """`deltas` with memory counted (`frag_with_memory`)."""
        target, state = cache.target, cache.state
        mem = state.mem_free[nodes]
        before = frag_with_memory(cache.stats.take(nodes), mem, target)
        if not is_share(demand):
            after = cache.stats.take(nodes).after_whole(demand)
            return frag_with_memory(after, mem - demand.mem_mib, target) - before
        values, rows, cols = distinct_fits(state.gpu_free[nodes], demand)
        after = cache.stats.take(nodes[rows]).after_share(target, values[rows, cols], demand)
        delta = frag_with_memory(after, mem[rows] - demand.mem_mib, target) - before[rows]
        return per_node_min(len(nodes), rows, delta)

    def share_keys(
        self, cache: SilkCache, demand: Demand, nodes: IntArray
    ) -> tuple[IntArray, FloatArray]:
        if not self.memory_frag:
            return super().share_keys(cache, demand, nodes)
        target, state = cache.target, cache.state
        mem = state.mem_free[nodes]
        values, rows, cols = distinct_fits(state.gpu_free[nodes], demand)
        free = values[rows, cols]
        before = frag_with_memory(cache.stats.take(nodes), mem, target)
        after = cache.stats.take(nodes[rows]).after_share(target, free, demand)
        delta = frag_with_memory(after, mem[rows] - demand.mem_mib, target) - before[rows]
        return best_points_least_loss(
            len(nodes), rows, fgd_points(delta), lambda: self.sliver_loss(cache, free, demand)
        )

    def slot_deltas(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[IntArray, FloatArray]:
        if not self.memory_frag:
            return super().slot_deltas(state, node, free_row, demand)
        return self.memory_slot_deltas(state, node, free_row, demand)

    def memory_slot_deltas(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[IntArray, FloatArray]:
        """`slot_deltas` with memory counted."""
        cache = self.cache(state)
        target = cache.target
        return slot_frag_deltas(
            cache, node, free_row, demand, lambda stats, mem: frag_with_memory(stats, mem, target)
        )

    def hostable_loss(self, cache: SilkCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """How much hostable demand (accelerators, CPU and memory) each node loses if the
        worker goes there; a sharing worker is counted by its CPU and memory only. Counted
        over the cache's `host` shapes (the target itself here; every shape in silk-r7)."""
        if not self.memory_hostable:
            return super().hostable_loss(cache, demand, nodes)
        state, target, type_ok = cache.state, cache.host, cache.host_type_ok[nodes]
        pods = cache.gpu_pods[nodes]
        cpu, mem = state.cpu_free[nodes], state.mem_free[nodes]
        before = hostable_with_memory(target, type_ok, pods, cpu, mem)
        if demand.gpu_slots and demand.gpu_milli == MILLI:
            taken = np.minimum(cache.whole[nodes], demand.gpu_slots)
            pods = pods - taken[:, None] * (MILLI // np.maximum(target.milli, 1))[None, :]
        after = hostable_with_memory(
            target, type_ok, pods, cpu - demand.cpu_milli, mem - demand.mem_mib
        )
        return np.round(before - after, 6)


class SilkR5TieScorer(SilkR5Scorer):
    """silk-r5t: FGD's own score stays the first key; the score with memory counted orders
    its ties (after the type pressure, and for non-sharing pods after "nodes in use first")."""

    name = "silk-r5t"

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        pressure = self.type_pressure(state)[nodes] if demand.gpu_slots else np.zeros(len(nodes))
        cache = self.cache(state)
        keys: tuple[npt.ArrayLike, ...]
        if is_share(demand):
            points, memory, loss = self.share_keys_with_memory(cache, demand, nodes)
            keys = (-points, pressure, -memory, loss, self.node_rank(state)[nodes])
        else:
            points = fgd_points(SilkScorer.deltas(self, cache, demand, nodes))
            memory = fgd_points(self.memory_deltas(cache, demand, nodes))
            idle = cache.idle(nodes)
            best = points == points.max()
            tied = best & (pressure == pressure[best].min()) & ~idle
            if tied.any():
                tied &= memory == memory[tied].max()
            loss = np.zeros(len(nodes))
            if tied.any():
                loss[tied] = self.hostable_loss(cache, demand, nodes[tied])
            fit = self._fit.score(state, demand, nodes)
            keys = (-points, pressure, idle, -memory, loss, fit, nodes)
        return lexicographic_rank(*keys)

    def share_keys_with_memory(
        self, cache: SilkCache, demand: Demand, nodes: IntArray
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Per node, its best accelerator by (FGD's score, the score with memory, the least
        sliver loss): those three values."""
        target, state = cache.target, cache.state
        mem = state.mem_free[nodes]
        values, rows, cols = distinct_fits(state.gpu_free[nodes], demand)
        free = values[rows, cols]
        points = np.full(len(nodes), -1, dtype=np.int64)
        memory = np.full(len(nodes), -1, dtype=np.int64)
        loss = np.full(len(nodes), np.inf)
        if not len(rows):
            return points, memory, loss
        after = cache.stats.take(nodes[rows]).after_share(target, free, demand)
        plain = fgd_points(after.frag(target) - cache.frag[nodes][rows])
        before = frag_with_memory(cache.stats.take(nodes), mem, target)
        counted = fgd_points(
            frag_with_memory(after, mem[rows] - demand.mem_mib, target) - before[rows]
        )
        loss_of = self.sliver_loss(cache, free, demand)
        order = np.lexsort((loss_of, -counted, -plain, rows))
        first = order[np.unique(rows[order], return_index=True)[1]]
        points[rows[first]] = plain[first]
        memory[rows[first]] = counted[first]
        loss[rows[first]] = loss_of[first]
        return points, memory, loss

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if not is_share(demand) or self.target is None:
            return super().pick_slots(state, node, free_row, demand)
        slots, plain = SilkScorer.slot_deltas(self, state, node, free_row, demand)
        _, counted = self.memory_slot_deltas(state, node, free_row, demand)
        cache = self._cache
        assert isinstance(cache, SilkCache)
        loss = self.sliver_loss(cache, free_row[slots], demand)
        order = np.lexsort((slots, loss, -fgd_points(counted), -fgd_points(plain)))
        return (int(slots[order[0]]),)


def frag_with_memory(stats: Stats, mem: IntArray, target: TargetWorkload) -> FloatArray:
    """FGD's node fragmentation (`Stats.frag`) where a shape also needs its mean memory free
    (a shape of unknown memory needs none)."""
    fits = (
        stats.type_ok
        & target.uses_gpu
        & (stats.ge >= target.count)
        & (stats.cpu[:, None] >= target.cpu)
        & (np.asarray(mem)[:, None] >= target.mem[None, :])
    )
    unusable = np.where(fits, stats.small, stats.idle[:, None])
    return np.asarray(unusable @ target.weight, dtype=np.float64)


def hostable_with_memory(
    target: TargetWorkload, type_ok: BoolArray, gpu_pods: IntArray, cpu: IntArray, mem: IntArray
) -> FloatArray:
    """silk's hostable demand (`hostable_of`) with each shape's count also limited by the
    node's free memory over the shape's mean memory (no limit where that is unknown)."""
    by_gpu = gpu_pods // np.maximum(target.count, 1)
    by_cpu = np.maximum(cpu, 0)[:, None] // np.maximum(target.cpu, 1)
    known = target.mem > 0
    per_pod = np.where(known, target.mem, 1.0)
    by_mem = np.floor(np.maximum(mem, 0)[:, None] / per_pod[None, :]).astype(np.int64)
    # An unknown memory limits nothing: such a shape keeps its GPU and CPU count (a
    # placeholder "no limit" count would overflow the cast, or the float sum of the demand).
    by_both = np.minimum(by_gpu, by_cpu)
    pods = np.where(type_ok, np.where(known[None, :], np.minimum(by_both, by_mem), by_both), 0)
    gpu_per_pod = target.weight * target.count * target.milli  # 0 for CPU-only shapes
    return np.asarray(pods @ gpu_per_pod, dtype=np.float64)
