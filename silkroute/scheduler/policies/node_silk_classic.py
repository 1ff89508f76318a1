"""silk-classic: the first adopted `silk` (issue 15, first round), kept so that earlier tables
stay reproducible; `silk` (node_silk.py) builds on its type pressure.

FGD's whole-number score, with its ties broken by what FGD cannot see.

FGD (`node_fgd.py`) scores a node with `int(100 * sigmoid(-delta / 1000))`: many candidates
tie, and its simulator breaks the ties by a node order drawn once per run. silk keeps FGD's
score as the first key (a real difference in fragmentation always wins) and orders the ties
lexicographically by two things that score does not measure:

1. **Type pressure** (GPU pods only). For each accelerator type, the share of the target
   workload's GPU demand that *must* run on it (shapes with a GPU-type constraint, each
   spread evenly over the types it accepts), over the type's share of the cluster's GPUs.
   Among equal scores a pod goes to the type least needed by constrained pods, so pods that
   could run anywhere stop using up the few P100 and T4 GPUs that constrained pods cannot do
   without. With no constrained shapes in the workload every type's pressure is 0.
2. **Packing** for pods that do not share a GPU (whole GPUs, several GPUs, CPU only): the
   node with the least CPU and GPU left (best fit), which keeps idle 8-GPU nodes whole for
   the rare 8-GPU pods. GPU-sharing pods keep FGD's fixed node order: it already packs them
   (equal scores go to the same first nodes) and best fit made them fill small nodes early.

Nothing here is tuned per workload: the pressure is learnt from the target workload, and the
two keys only order candidates that FGD scores the same (0.5 and 0.01 are lexicographic
scales, below one score point).
"""

from __future__ import annotations

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.fragmentation import FloatArray, TargetWorkload
from silkroute.scheduler.policies.node_bestfit import BestFitScorer
from silkroute.scheduler.policies.node_fgd import FgdScorer, is_share
from silkroute.scheduler.state import ClusterState, IntArray


class SilkClassicScorer(FgdScorer):
    name = "silk-classic"

    def __init__(self, target: TargetWorkload | None = None, order_seed: int | None = None) -> None:
        super().__init__(target, order_seed)
        self._fit = BestFitScorer()
        self._pressure: FloatArray | None = None
        # The target and state it was computed for, held (an id() is reused once its object
        # is gone, as a learnt target is when rebuilt) and compared by identity.
        self._pressure_of: tuple[TargetWorkload, ClusterState] | None = None

    def type_pressure(self, state: ClusterState) -> FloatArray:
        """Per node: the pressure of its accelerator type (0 for an unconstrained workload)."""
        target = self.target
        assert target is not None
        held = self._pressure_of
        if self._pressure is not None and held and held[0] is target and held[1] is state:
            return self._pressure
        capacity: dict[str, float] = {}
        for i, accel in enumerate(state.node_type):
            if accel is not None:
                capacity[accel] = capacity.get(accel, 0.0) + float(state.gpu_cap[i].sum())
        total_capacity = sum(capacity.values()) or 1.0
        gpu_demand = 0.0
        pinned: dict[str, float] = {}
        for shape, weight in zip(target.shapes, target.weight, strict=True):
            need = float(weight) * shape.gpu_count * shape.gpu_milli
            gpu_demand += need
            known = [t for t in shape.gpu_types or () if t in capacity]
            for accel in known:
                pinned[accel] = pinned.get(accel, 0.0) + need / len(known)
        ratio = {
            accel: (pinned.get(accel, 0.0) / max(gpu_demand, 1e-9)) / (cap / total_capacity)
            for accel, cap in capacity.items()
        }
        self._pressure = np.array([ratio.get(t, 0.0) if t else 0.0 for t in state.node_type])
        self._pressure_of = (target, state)
        return self._pressure

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        points = self.points(state, demand, nodes).astype(np.float64)
        pressure = self.type_pressure(state)[nodes] if demand.gpu_slots else np.zeros(len(nodes))
        if is_share(demand):
            then = self.node_rank(state)[nodes] / max(len(state.node_names), 1)
        else:
            then = self._fit.score(state, demand, nodes)  # in [0, 1]
        # Lower wins; pressure / (1 + pressure) < 1, so neither key crosses a score point.
        return np.asarray(-points + 0.5 * pressure / (1 + pressure) + 0.01 * then, np.float64)
