"""silk: FGD's fragmentation gradient plus packing pressure (silkroute's GPU-sharing policy).

FGD is blind to one thing: a placement that leaves every typical shape still fitting costs no
fragmentation, wherever it goes. Placing a pod on an idle node or a busy one then scores (about)
the same, and FGD spreads pods across idle nodes. Rare big tasks (8-GPU pods asking for ~90% of
a node's CPU; too rare to be "typical") then find no whole node left.

silk scores fragmentation delta + `weight` x best-fit leftover (in GPU thousandths: the node's
normalised CPU and GPU left after the placement, as `bestfit`). Among placements that fragment
about equally it fills busy nodes first and keeps idle nodes whole; a large fragmentation
difference still wins. Accelerators within a node are chosen by FGD's rule.
"""

from __future__ import annotations

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.fragmentation import FloatArray, TargetWorkload
from silkroute.scheduler.policies.node_bestfit import BestFitScorer
from silkroute.scheduler.policies.node_fgd import FgdExactScorer
from silkroute.scheduler.state import ClusterState, IntArray

# Best-fit leftover is in [0, 1]; x 0.1 x 1000 puts a node's full leftover at 100 thousandths
# of fragmentation. Chosen on the openb trace (0.05..0.3 all beat FGD; 0.1 is best).
WEIGHT = 0.1


class SilkScorer(FgdExactScorer):
    name = "silk"

    def __init__(self, target: TargetWorkload | None = None, weight: float = WEIGHT) -> None:
        super().__init__(target)
        self.weight = weight
        self._fit = BestFitScorer()

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        packing = self._fit.score(state, demand, nodes)
        return super().score(state, demand, nodes) + self.weight * MILLI * packing
