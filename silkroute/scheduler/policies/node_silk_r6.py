"""silk-r6: silk with its hostable demand counted over every shape of the target, not 95%.

Issue 15, sixth round (docs/packing.md, "Sixth round"). The fifth round found why
multi-GPU-heavy lists lose at 95% arrived: CPU-only pods take CPU on the few big nodes (G3:
8 GPUs, 128 cores) that alone fit the rare 8-GPU pods of 120 cores. Those pods lie outside
the target's 95% popularity coverage (FGD's "typical pods"), so no key learnt from that
target sees a pod break them.

The one change: silk's hostable-demand key (the tie-break for whole-GPU, multi-GPU and
CPU-only pods among nodes in use that FGD's score ties) counts every shape the target was
learnt from, each weighted by its popularity (`TargetWorkload.full_coverage`): a rare shape
weighs little, but a node that could still take one loses hostable demand when a pod eats
the CPU it needs, where a node that could not loses none. FGD's score (the first key), the
type pressure and the sliver keys stay on the 95% target exactly as in silk. Nothing is
tuned per workload: the popularity is learnt with the target (from the pod list in the
experiment, from the arrivals in a live scheduler).
"""

from __future__ import annotations

from silkroute.scheduler.fragmentation import TargetWorkload
from silkroute.scheduler.policies.node_silk import SilkCache, SilkScorer
from silkroute.scheduler.state import ClusterState


class SilkR6Cache(SilkCache):
    """silk's cache, its hostable demand over the target's every shape."""

    @staticmethod
    def host_target(target: TargetWorkload, state: ClusterState) -> TargetWorkload:
        return target.full_coverage()


class SilkR6Scorer(SilkScorer):
    """silk, its hostable-demand tie-break protecting the rare shapes too."""

    name = "silk-r6"
    cache_type = SilkR6Cache
