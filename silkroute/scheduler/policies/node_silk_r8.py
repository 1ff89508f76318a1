"""silk-r8 (the eighth round's rule, `silk` from the ninth round to the tenth, which adopted
`silk-r10`): the seventh round's rule (`silk-r7`), with the sole homes of a shape used last.

Issue 15, eighth and ninth rounds (docs/packing.md). On the generated multigpu50, seed
65, `fgd` and `silk` drop four 8-GPU pods of 120 cores by 95% arrived: only the 39 G3 nodes
(8 GPUs, 128 cores, 768 GiB) can host them, and by then 4-GPU pods and small pods have taken
a part of every G3, though other nodes could have hosted those. Slurm's answer is the node
`Weight`: an operator gives the big-memory nodes a higher weight so that they are allocated
last. silk-r8 derives that weight from the cluster and the target instead of an operator:

- a node's *kind* is its capacity (accelerator count, CPU, memory), type ignored (a GPU
  type pinned by a pod is the type pressure's business, and would make every type a sole
  home);
- a kind is a **sole home** when some shape of the target's full coverage (every shape the
  target was learnt from) fits an idle node of that kind and no node of any other kind;
- a pod goes to a sole home only when no other candidate can take it (the first key);
  among the rest, and among sole homes when only they fit, silk's keys decide unchanged.

No constant and no threshold: the shapes and their popularity are learnt with the target,
the kinds from the node list. A pod that needs the sole home (the 120-core pods) sees only
sole homes among its candidates, so the key does not move it.
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import BoolArray, FloatArray, TargetWorkload
from silkroute.scheduler.policies.node_silk import lexicographic_rank
from silkroute.scheduler.policies.node_silk_r7 import SilkR7Cache, SilkR7Scorer
from silkroute.scheduler.state import ClusterState, IntArray


def sole_shapes(target: TargetWorkload, state: ClusterState) -> tuple[BoolArray, BoolArray]:
    """(per shape: only one kind of node can host it when idle; per node: its kind is the
    only home of some shape). A kind is a node's accelerators, CPU and memory."""
    gpus = state.gpu_cap.sum(axis=1)
    alike = np.column_stack((gpus, state.cpu_cap, state.mem_cap))
    _, first, of_node = np.unique(alike, axis=0, return_index=True, return_inverse=True)
    fits = (
        (gpus[first, None] >= target.count[None, :] * MILLI)
        & (state.cpu_cap[first, None] >= target.cpu[None, :])
        & (state.mem_cap[first, None] >= target.mem[None, :])
    )  # kinds x shapes
    sole = fits.sum(axis=0) == 1
    home = fits[:, sole].any(axis=1)
    return sole, np.asarray(home[of_node.ravel()], dtype=bool)


def sole_homes(target: TargetWorkload, state: ClusterState) -> BoolArray:
    """Per node: whether its kind is the only kind an idle node of which can host some
    shape of `target`."""
    return sole_shapes(target, state)[1]


class SilkR8Cache(SilkR7Cache):
    """silk's cache plus the sole shapes (their demands) and their homes, fixed for the
    cluster and the target."""

    def __init__(self, state: ClusterState, target: TargetWorkload) -> None:
        super().__init__(state, target)
        full = target.full_coverage()
        sole, self.sole_home = sole_shapes(full, state)
        self.sole_count = full.count[sole]
        self.sole_milli = full.milli[sole]
        self.sole_cpu = full.cpu[sole]
        self.sole_mem = full.mem[sole]


class SilkR8Scorer(SilkR7Scorer):
    """silk-r7; the sole homes of a shape last."""

    name = "silk-r8"
    cache_type = SilkR8Cache

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        rank = super().score(state, demand, nodes)
        cache = self.cache(state)
        assert isinstance(cache, SilkR8Cache)
        return lexicographic_rank(self.kept_last(cache, state, demand, nodes), rank)

    def kept_last(
        self, cache: SilkR8Cache, state: ClusterState, demand: Demand, nodes: IntArray
    ) -> BoolArray:
        """The candidates used only when no other fits (the first key)."""
        return cache.sole_home[nodes]


class SilkR8bScorer(SilkR8Scorer):
    """silk; first, a node that could still host a shape only its kind hosts and would not
    after the pod is kept for last (a sole home already broken is fair game)."""

    name = "silk-r8b"

    def kept_last(
        self, cache: SilkR8Cache, state: ClusterState, demand: Demand, nodes: IntArray
    ) -> BoolArray:
        breaks = np.zeros(len(nodes), dtype=bool)
        homes = np.flatnonzero(cache.sole_home[nodes])
        if len(homes) and len(cache.sole_count):
            at = nodes[homes]
            gpu = state.gpu_free[at]
            # Accelerators with each sole shape's share free, before and after (the pod's
            # accelerators counted as taken from them: exact for whole GPUs).
            room = (gpu[:, :, None] >= cache.sole_milli[None, None, :]).sum(axis=1)
            cpu, mem = state.cpu_free[at, None], state.mem_free[at, None]
            now = (room >= cache.sole_count) & (cpu >= cache.sole_cpu) & (mem >= cache.sole_mem)
            after = (
                (room - demand.gpu_slots >= cache.sole_count)
                & (cpu - demand.cpu_milli >= cache.sole_cpu)
                & (mem - demand.mem_mib >= cache.sole_mem)
            )
            breaks[homes] = (now & ~after).any(axis=1)
        return breaks
