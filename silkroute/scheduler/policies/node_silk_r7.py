"""silk-r7 (`silk` from the seventh round to the ninth): silk-r5t with silk-r6's hostable
demand over every shape, by scarcity.

Issue 15, seventh round (docs/packing.md, "Seventh round"): named `silk-r7` while a
candidate, adopted as `silk` by the criterion written before its held-out run (14 of the 15
workloads won on fresh seeds, the rule it replaced, now `silk-r4`, 12).

`silk-r5t` (FGD's score first, the score with memory counted as a later key) leaves the
fewest GPUs unallocated from 100% arrived on the multi-GPU lists but loses at 95%: where
FGD's score ties among idle nodes, its memory key sends memory-hungry pods (4-GPU pods of
313 GiB) to the memory-rich G3 nodes (8 GPUs, 128 cores, 768 GiB), the only ones that fit
the 8-GPU pods of 120 cores, which then fail earlier. Counting silk-r6's full-coverage
hostable demand after the memory key, as silk-r5t orders its keys, changes nothing there:
the memory key has already decided, and silk-r5t asks the hostable loss of nodes in use
only.

So, for non-sharing pods (whole GPUs, several GPUs, CPU only), among the nodes that FGD's
score and the type pressure tie (nodes in use first, as in silk):

1. the least **hostable demand** lost, idle nodes included, counted with memory over every
   shape the target was learnt from (`full_coverage`), each weighted by its popularity times
   its **scarcity**: the cluster's GPUs over the GPUs of the nodes that could host the shape
   at all (capacity: GPU count, CPU, memory, GPU type). A 120-core 8-GPU shape fits only the
   G3 nodes (5% of the GPUs): it weighs 20 times its popularity, so breaking an idle G3
   costs about what stranding the memory of three GPUs on a G2 costs;
2. then silk-r5t's score with memory, best fit, the node index.

Sharing pods are placed exactly as in silk-r5t; FGD's score (the first key), the type
pressure and the memory score stay on the 95% target. Nothing is tuned per workload:
popularity and mean memory are learnt with the target, scarcity from the cluster.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import BoolArray, FloatArray, TargetWorkload
from silkroute.scheduler.policies.node_fgd import fgd_points, is_share
from silkroute.scheduler.policies.node_silk import SilkCache, SilkScorer, lexicographic_rank
from silkroute.scheduler.policies.node_silk_r5 import SilkR5TieScorer
from silkroute.scheduler.state import ClusterState, IntArray


class SilkR7Cache(SilkCache):
    """silk's cache, its hostable demand over every shape weighted by scarcity; `kind`: nodes
    alike in capacity (accelerators, CPU, memory) and in the shapes their type allows share
    one number, so that idle ones are asked their hostable loss once per kind."""

    def __init__(self, state: ClusterState, target: TargetWorkload) -> None:
        super().__init__(state, target)
        alike = np.column_stack((state.gpu_cap, state.cpu_cap, state.mem_cap, self.host_type_ok))
        self.kind = np.unique(alike, axis=0, return_inverse=True)[1].ravel()

    def pristine(self, nodes: IntArray) -> BoolArray:
        """Nodes with nothing on them, memory included (`idle` reads accelerators and CPU)."""
        state = self.state
        return self.idle(nodes) & (state.mem_free[nodes] == state.mem_cap[nodes])

    @staticmethod
    def host_target(target: TargetWorkload, state: ClusterState) -> TargetWorkload:
        full = target.full_coverage()
        weight = full.weight * scarcity(full, state)
        return TargetWorkload(list(full.shapes), list(weight), list(full.mem))


class SilkR7Scorer(SilkR5TieScorer):
    """silk-r5t; non-sharing pods by the scarcity-weighted hostable loss before memory."""

    name = "silk-r7"
    cache_type = SilkR7Cache

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        if is_share(demand):
            return super().score(state, demand, nodes)
        pressure = self.type_pressure(state)[nodes] if demand.gpu_slots else np.zeros(len(nodes))
        cache = self.cache(state)
        points = fgd_points(SilkScorer.deltas(self, cache, demand, nodes))
        memory = fgd_points(self.memory_deltas(cache, demand, nodes))
        best = points == points.max()
        tied = best & (pressure == pressure[best].min())  # idle nodes too
        loss = np.zeros(len(nodes))
        if tied.any():
            loss[tied] = self.hostable_loss(cache, demand, nodes[tied])
        fit = self._fit.score(state, demand, nodes)
        idle = cache.idle(nodes)
        return lexicographic_rank(-points, pressure, idle, loss, -memory, fit, nodes)

    def hostable_loss(self, cache: SilkCache, demand: Demand, nodes: IntArray) -> FloatArray:
        """silk-r5t's hostable loss over this cache's shapes, asked once per kind of node
        with nothing on it (all such nodes of a kind lose alike): while the cluster is still
        mostly idle, most of the nodes asked are."""
        assert isinstance(cache, SilkR7Cache)
        pristine = cache.pristine(nodes)
        kinds, first, where = np.unique(
            cache.kind[nodes[pristine]], return_index=True, return_inverse=True
        )
        if len(kinds) == int(pristine.sum()):
            return super().hostable_loss(cache, demand, nodes)
        asked = np.concatenate((np.flatnonzero(~pristine), np.flatnonzero(pristine)[first]))
        counted = super().hostable_loss(cache, demand, nodes[asked])
        loss = np.empty(len(nodes))
        busy = int((~pristine).sum())
        loss[~pristine] = counted[:busy]
        loss[pristine] = counted[busy:][where.ravel()]
        return loss


def scarcity(target: TargetWorkload, state: ClusterState) -> FloatArray:
    """Per shape: the cluster's GPUs over the GPUs of the nodes that could host one pod of
    the shape when idle (enough accelerators of an allowed type, CPU and memory); 0 for a
    shape no node can host (it adds no hostable demand anywhere, and must not outweigh the
    rest)."""
    gpus = state.gpu_cap.sum(axis=1)
    fits = (
        target.type_ok(state)
        & (gpus[:, None] >= target.count[None, :] * MILLI)
        & (state.cpu_cap[:, None] >= target.cpu[None, :])
        & (state.mem_cap[:, None] >= target.mem[None, :])
    )
    supply = gpus @ fits
    return np.where(supply > 0, gpus.sum() / np.maximum(supply, 1), 0.0)
