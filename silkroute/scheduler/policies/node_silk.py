"""silk-r4: FGD's whole-number score, with its ties broken by what FGD cannot see.

The fourth round's rule of issue 15, `silk` until the seventh round adopted `silk-r7`
(`node_silk_r7.py`, now `silk`); the base of every later rule, registered as `silk-r4` so
that the earlier tables reproduce. In the text below "silk" is this rule.

silk keeps FGD's score as the first key and orders its many ties lexicographically by things
that score does not measure (why the ties matter: `node_silk_classic.py`, the first silk):

1. **Type pressure** (GPU pods only), as in silk-classic: among equal scores a pod goes to
   the accelerator type that the target workload's type-constrained shapes need least.
2. **GPU-sharing pods**: the accelerator whose free part loses the least *usability*, the
   popularity of the target's one-GPU shapes whose share still fits in it (a whole GPU is
   usable by all of them, 190 thousandths only by the 160- and 110-thousandth shapes); then
   FGD's fixed node order. Near-equal usability losses (under about 0.02) are decided by
   the *sum-of-squares* change of the gap counts (how many accelerators have each free
   amount), as in online bin packing: leave gaps that few accelerators have. The same two
   keys pick the accelerator inside the node among the best-scored ones.
3. **Other pods** (whole GPUs, several GPUs, CPU only): nodes in use before idle ones. Among
   nodes in use, the one that loses the least *hostable demand*: the GPU thousandths of
   target-shaped pods the node could still take, each shape counted as many times as it fits
   (accelerators with room and CPU), weighted by popularity. A pod that eats the CPU beside a
   node's idle GPUs strands them and loses more than one that does not. Then best fit (least
   CPU and GPU left). Idle nodes by best fit alone: the smallest first, so 8-GPU nodes stay
   whole for 8-GPU pods (the target's 95% often omits them).

Nothing here is tuned per workload: the pressure, usability and hostable demand are learnt
from the target workload, and every key only orders candidates that all earlier keys tie.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import BoolArray, FloatArray, FragCache, TargetWorkload
from silkroute.scheduler.policies.node_fgd import distinct_fits, fgd_points, is_share
from silkroute.scheduler.policies.node_silk_classic import SilkClassicScorer
from silkroute.scheduler.state import ClusterState, IntArray


class SilkCache(FragCache):
    """FGD's per-node statistics plus what silk's keys read, kept up to date by the same
    refresh (only the nodes whose free arrays moved are recounted), instead of recounting
    the whole cluster on every scoring call:

    - `gpu_pods`[node, shape]: sum over the node's accelerators of free // share, the GPU
      side of `hostable` before its division by the shape's GPU count;
    - `whole`[node]: idle accelerators; `hostable`[node]: the node's hostable demand;
    - `gaps`[free]: how many accelerators have each free amount (`gap_counts`);
    - `usable`[free]: `usability` of every free amount, once per target.

    The hostable demand is counted over `host`, the shapes `host_target` picks (silk: the
    target itself).
    """

    def __init__(self, state: ClusterState, target: TargetWorkload) -> None:
        super().__init__(state, target)
        self.host = self.host_target(target, state)
        self.host_type_ok = self.stats.type_ok if self.host is target else self.host.type_ok(state)
        self.usable = usability(target, np.arange(MILLI + 1, dtype=np.int64))
        self.gaps = np.bincount(state.gpu_free.ravel(), minlength=MILLI + 1).astype(np.int64)
        self._capacity = (state.gpu_cap.sum(axis=1), state.cpu_cap.copy())
        rows = np.arange(len(state.node_names))
        self.gpu_pods = np.zeros((len(rows), len(self.host.shapes)), dtype=np.int64)
        self.whole = np.zeros(len(rows), dtype=np.int64)
        self.hostable = np.zeros(len(rows), dtype=np.float64)
        self._recount(rows)

    def update(self, changed: IntArray) -> None:
        before = self._gpu[changed].ravel()
        super().update(changed)
        self.gaps -= np.bincount(before, minlength=MILLI + 1)
        self.gaps += np.bincount(self.state.gpu_free[changed].ravel(), minlength=MILLI + 1)
        self._recount(changed)

    def _recount(self, rows: IntArray) -> None:
        gpu = self.state.gpu_free[rows]
        self.gpu_pods[rows] = gpu_pods(self.host, gpu)
        self.whole[rows] = (gpu == MILLI).sum(axis=1)
        self.hostable[rows] = hostable_of(
            self.host, self.host_type_ok[rows], self.gpu_pods[rows], self.state.cpu_free[rows]
        )

    @staticmethod
    def host_target(target: TargetWorkload, state: ClusterState) -> TargetWorkload:
        """The shapes whose hostable demand the tie-break protects, on `state`'s nodes."""
        return target

    def gap_counts(self) -> IntArray:
        return open_gaps(self.gaps)

    def idle(self, nodes: IntArray) -> BoolArray:
        gpu_cap, cpu_cap = self._capacity
        cpu = self.stats.cpu[nodes]
        return np.asarray((self.stats.idle[nodes] == gpu_cap[nodes]) & (cpu == cpu_cap[nodes]))


class SilkScorer(SilkClassicScorer):
    """The fourth round's rule (`silk` until the seventh round); the type pressure is
    silk-classic's."""

    name = "silk-r4"
    cache_type = SilkCache

    def cache(self, state: ClusterState) -> SilkCache:
        cache = super().cache(state)
        assert isinstance(cache, SilkCache)
        return cache

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        pressure = self.type_pressure(state)[nodes] if demand.gpu_slots else np.zeros(len(nodes))
        cache = self.cache(state)  # refreshed once per call: the compare is not free
        keys: tuple[npt.ArrayLike, ...]
        if is_share(demand):
            points, loss = self.share_keys(cache, demand, nodes)
            keys = (-points, pressure, loss, self.node_rank(state)[nodes])
        else:
            points = fgd_points(self.deltas(cache, demand, nodes))
            idle = cache.idle(nodes)
            # The hostable loss only where it can decide: nodes in use that tie on the keys
            # before it (it is the costly key).
            best = points == points.max()
            tied = best & (pressure == pressure[best].min()) & ~idle
            loss = np.zeros(len(nodes))
            if tied.any():
                loss[tied] = self.hostable_loss(cache, demand, nodes[tied])
            fit = self._fit.score(state, demand, nodes)
            keys = (-points, pressure, idle, loss, fit, nodes)
        return lexicographic_rank(*keys)

    def share_keys(
        self, cache: SilkCache, demand: Demand, nodes: IntArray
    ) -> tuple[IntArray, FloatArray]:
        """Per node: FGD's score (its best accelerator) and the least usability lost among
        the accelerators with that score."""
        target = cache.target
        values, rows, cols = distinct_fits(cache.state.gpu_free[nodes], demand)
        free = values[rows, cols]
        after = cache.stats.take(nodes[rows]).after_share(target, free, demand)
        points = fgd_points(after.frag(target) - cache.frag[nodes][rows])
        return best_points_least_loss(
            len(nodes), rows, points, lambda: self.sliver_loss(cache, free, demand)
        )

    def sliver_loss(self, cache: SilkCache, free: IntArray, demand: Demand) -> FloatArray:
        """For a sharing worker on accelerators with `free` thousandths: the usability lost
        (scaled by 10^6), plus the sum-of-squares change of the gap counts. Usability decides
        unless two accelerators' losses differ by under about 0.02 (the SS change is at most
        a few 10^4): then the gap balance does."""
        usable = cache.usable
        lost = usable[free] - usable[np.maximum(free - demand.gpu_milli, 0)]
        balance = sum_of_squares_change(cache.gap_counts(), free, demand.gpu_milli)
        return np.asarray(np.round(lost, 9) * 1e6 + balance, dtype=np.float64)

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        if not is_share(demand) or self.target is None:
            return super().pick_slots(state, node, free_row, demand)
        slots, delta = self.slot_deltas(state, node, free_row, demand)
        points = fgd_points(delta)
        cache = self._cache  # as slot_deltas just refreshed it
        assert isinstance(cache, SilkCache)
        loss = self.sliver_loss(cache, free_row[slots], demand)
        # The best FGD score, then the least sliver loss, then the lowest index.
        return (int(slots[np.lexsort((slots, loss, -points))[0]]),)

    def hostable_loss(self, cache: SilkCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """How much hostable demand each node loses if the (non-sharing) worker goes there."""
        state, target, type_ok = cache.state, cache.host, cache.host_type_ok[nodes]
        pods = cache.gpu_pods[nodes]
        if demand.gpu_slots:  # it takes the first free whole accelerators, each worth
            # MILLI // share pods of every shape
            taken = np.minimum(cache.whole[nodes], demand.gpu_slots)
            pods = pods - taken[:, None] * (MILLI // np.maximum(target.milli, 1))[None, :]
        after = hostable_of(target, type_ok, pods, state.cpu_free[nodes] - demand.cpu_milli)
        return np.round(cache.hostable[nodes] - after, 6)


def best_points_least_loss(
    n_nodes: int, rows: IntArray, points: IntArray, loss_of: Callable[[], FloatArray]
) -> tuple[IntArray, FloatArray]:
    """Per node (`rows`: ascending node positions of the candidate accelerators): the best
    score, and the least loss among its accelerators with that score (-1 and inf where
    none); `loss_of()` gives each candidate's loss, asked only where there are candidates."""
    best = np.full(n_nodes, -1, dtype=np.int64)
    loss = np.full(n_nodes, np.inf)
    if not len(rows):
        return best, loss
    present, starts = np.unique(rows, return_index=True)
    best[present] = np.maximum.reduceat(points, starts)
    keep = points == best[rows]
    loss[present] = np.minimum.reduceat(np.where(keep, loss_of(), np.inf), starts)
    return best, loss


def gap_counts(state: ClusterState) -> IntArray:
    """How many accelerators have each free amount (index 0..1000 thousandths); full and
    idle accelerators count 0, as closed and empty bins do in sum-of-squares bin packing."""
    return open_gaps(np.bincount(state.gpu_free.ravel(), minlength=MILLI + 1).astype(np.int64))


def open_gaps(counts: IntArray) -> IntArray:
    """`counts` (accelerators per free amount) without the full and the idle ones."""
    counts = counts.copy()
    counts[0] = counts[MILLI] = 0
    return counts


def sum_of_squares_change(counts: IntArray, free: IntArray, share: int) -> IntArray:
    """Change of sum_g counts[g]^2 when `share` thousandths go to an accelerator with `free`
    (Csirik et al., "On the sum-of-squares algorithm for bin packing", JACM 2006): the gap
    `free` loses one accelerator and the gap `free - share` gains one. Lower keeps the gaps
    balanced, so the shares still to come find exact fits."""
    after = free - share
    gained = np.where(after > 0, 2 * counts[np.maximum(after, 0)] + 1, 0)
    lost = np.where(free < MILLI, 1 - 2 * counts[np.minimum(free, MILLI)], 0)
    return np.asarray(gained + lost, dtype=np.int64)


def usability(target: TargetWorkload, free: IntArray) -> FloatArray:
    """Popularity of the target's one-GPU shapes whose share fits in `free` thousandths."""
    one = target.count == 1
    weight = target.weight[one]
    fits = np.asarray(free)[:, None] >= target.milli[one][None, :]
    return np.asarray(fits @ weight / max(float(weight.sum()), 1e-12), dtype=np.float64)


def hostable(
    target: TargetWorkload, type_ok: BoolArray, gpu_free: IntArray, cpu_free: IntArray
) -> FloatArray:
    """Per node: sum over the target's GPU shapes of popularity x GPU thousandths per pod x
    how many more such pods fit (accelerators with the share free, whole accelerators for a
    several-GPU shape, and CPU)."""
    return hostable_of(target, type_ok, gpu_pods(target, gpu_free), cpu_free)


def gpu_pods(target: TargetWorkload, gpu_free: IntArray) -> IntArray:
    """[node, shape]: sum over the node's accelerators of free // the shape's share."""
    milli = np.maximum(target.milli, 1)
    return np.asarray((gpu_free[:, :, None] // milli[None, None, :]).sum(axis=1), np.int64)


def hostable_of(
    target: TargetWorkload, type_ok: BoolArray, gpu_pods: IntArray, cpu_free: IntArray
) -> FloatArray:
    """`hostable` from the per-shape accelerator sums (`gpu_pods`)."""
    by_gpu = gpu_pods // np.maximum(target.count, 1)
    by_cpu = np.maximum(cpu_free, 0)[:, None] // np.maximum(target.cpu, 1)
    pods = np.where(type_ok, np.minimum(by_gpu, by_cpu), 0)
    gpu_per_pod = target.weight * target.count * target.milli  # 0 for CPU-only shapes
    return np.asarray(pods @ gpu_per_pod, dtype=np.float64)


def lexicographic_rank(*keys: npt.ArrayLike) -> FloatArray:
    """Each candidate's place (0 first) when sorted by `keys`, the first key most significant;
    lower wins, as `PlacementPolicy` reads a node score."""
    order = np.lexsort(tuple(np.asarray(k) for k in reversed(keys)))
    rank = np.empty(len(order), dtype=np.float64)
    rank[order] = np.arange(len(order), dtype=np.float64)
    return rank
